// Provisioning links (CONTRACT §17): issued and revoked under /v1.0 by a manager; fetched by a
// phone at the public GET /provisioning/extension?token=…, which takes no other credential (the
// token is one; the logger redacts it from every URL it writes, see redactUrl in ../app.ts).
import { Type } from "@sinclair/typebox";
import {
  type CreateProvisioningBody,
  IssuedProvisioningLink,
  PROVISIONING_FORMATS,
  type ProvisioningFormat,
  ProvisioningLink,
  ProvisioningParams,
  ProvisioningQuery,
} from "../../contract/provisioning.js";
import { invalidArgument } from "../../domain/errors.js";
import { baresipLine, linphoneXml } from "../../domain/provisioning-formats.js";
import { principalOf } from "../plugins/auth.js";
import { IdParams, route } from "../schemas.js";
import type { Routes } from "../services.js";

export const provisioningRoutes: Routes = async (app, { services }) => {
  const tags = ["extensions"];
  app.post(
    "/extensions/:id/provisioning",
    route(tags, IssuedProvisioningLink, {
      summary: "A provisioning link (URL, token and QR code) for a phone; the token is in this answer only",
      params: IdParams,
    }),
    // The body is optional (a bare POST takes the default expiry), which a body schema cannot say
    // to Fastify: the domain checks it (CreateProvisioningBody), naming `expire`.
    (req) =>
      services.provisioning.issue(
        principalOf(req),
        req.params.id,
        req.body as CreateProvisioningBody | undefined,
        `${req.protocol}://${req.host}`,
      ),
  );
  app.delete(
    "/extensions/:id/provisioning/:pid",
    route(tags, ProvisioningLink, {
      summary: "Revoke a provisioning link at once",
      params: ProvisioningParams,
    }),
    (req) => services.provisioning.revoke(principalOf(req), req.params.id, req.params.pid),
  );
};

const CONTENT_TYPE: Record<ProvisioningFormat, string> = {
  linphone: "application/xml; charset=utf-8",
  json: "application/json; charset=utf-8",
  baresip: "text/plain; charset=utf-8",
};

/** The public endpoint a phone (or the person setting it up) fetches. */
export const publicProvisioningRoutes: Routes = async (app, { services }) => {
  app.get(
    "/provisioning/extension",
    route(
      ["provisioning"],
      Type.Any({ description: "The phone's settings in the format asked for" }),
      {
        summary: "A phone's settings by provisioning token: Linphone XML (default), JSON or a baresip line",
        querystring: ProvisioningQuery,
      },
      { public: true, missing: true },
    ),
    async (req, reply) => {
      const format = (req.query.format ?? "linphone") as ProvisioningFormat;
      if (!PROVISIONING_FORMATS.includes(format))
        throw invalidArgument("format", `must be one of ${PROVISIONING_FORMATS.join(", ")}`);
      const settings = await services.provisioning.fetch(req.query.token, req.ip);
      // Credentials: no cache anywhere may keep them.
      reply.header("cache-control", "no-store").type(CONTENT_TYPE[format]);
      if (format === "json") return settings;
      if (format === "linphone") return linphoneXml(settings);
      const line = baresipLine(settings);
      if (line === undefined)
        throw invalidArgument(
          "format",
          "baresip needs the password, which this server does not keep (SIPEXT_SHOW_PASSWORDS=false): use the Linphone XML or JSON, which carry the HA1",
        );
      return line;
    },
  );
};
