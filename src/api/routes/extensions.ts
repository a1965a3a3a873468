import { Page } from "../../contract/common.js";
import {
  CreateExtensionBody,
  Extension,
  ExtensionListQuery,
  UpdateExtensionBody,
} from "../../contract/extension.js";
import { principalOf } from "../plugins/auth.js";
import { IdParams, route } from "../schemas.js";
import type { Routes } from "../services.js";

export const extensionRoutes: Routes = async (app, { services }) => {
  const ext = services.extensions;
  const tags = ["extensions"];
  /** A route on one extension, answered with the extension. */
  const one = (summary: string) => route(tags, Extension, { summary, params: IdParams });
  app.post(
    "/extensions",
    route(tags, Extension, { summary: "Create an extension", body: CreateExtensionBody }, { conflict: true }),
    (req) => ext.create(principalOf(req), req.body),
  );
  app.get(
    "/extensions",
    route(tags, Page(Extension), {
      summary: "The customer's live extensions, newest first",
      querystring: ExtensionListQuery,
    }),
    (req) => ext.list(principalOf(req), req.query),
  );
  app.get("/extensions/:id", one("One extension (a deleted one has tm_delete set)"), (req) =>
    ext.get(principalOf(req), req.params.id),
  );
  app.put(
    "/extensions/:id",
    route(tags, Extension, {
      summary: "Change name, detail or password; an omitted field keeps its value",
      params: IdParams,
      body: UpdateExtensionBody,
    }),
    (req) => ext.update(principalOf(req), req.params.id, req.body),
  );
  app.delete("/extensions/:id", one("Soft-delete an extension; its registrations end"), (req) =>
    ext.remove(principalOf(req), req.params.id),
  );
  app.post(
    "/extensions/:id/direct-hash-regenerate",
    one("Draw a new direct hash; the old one stops resolving at once"),
    (req) => ext.regenerateDirectHash(principalOf(req), req.params.id),
  );
};
