import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { principalOf } from "../plugins/auth.js";
import {
  CreateExtensionBody,
  Extension,
  IdParams,
  Page,
  PageQuery,
  UpdateExtensionBody,
  withErrors,
} from "../schemas.js";
import type { ApiServices } from "../services.js";

const ListQuery = Type.Composite(
  [
    PageQuery,
    Type.Object({
      domain_id: Type.Optional(Type.String({ description: "keep the extensions of this domain" })),
    }),
  ],
  { additionalProperties: true },
);

export const extensionRoutes: FastifyPluginAsyncTypebox<{ services: ApiServices }> = async (
  app,
  { services },
) => {
  const ext = services.extensions;
  const tags = ["extensions"];
  const one = withErrors({ 200: Extension });
  app.post(
    "/extensions",
    { schema: { tags, summary: "Create an extension", body: CreateExtensionBody, response: one } },
    (req) => ext.create(principalOf(req), req.body),
  );
  app.get(
    "/extensions",
    {
      schema: {
        tags,
        summary: "The customer's live extensions, newest first",
        querystring: ListQuery,
        response: withErrors({ 200: Page(Extension) }),
      },
    },
    (req) => ext.list(principalOf(req), req.query),
  );
  app.get(
    "/extensions/:id",
    {
      schema: {
        tags,
        summary: "One extension (a deleted one has tm_delete set)",
        params: IdParams,
        response: one,
      },
    },
    (req) => ext.get(principalOf(req), req.params.id),
  );
  app.put(
    "/extensions/:id",
    {
      schema: {
        tags,
        summary: "Change name, detail or password; an omitted field keeps its value",
        params: IdParams,
        body: UpdateExtensionBody,
        response: one,
      },
    },
    (req) => ext.update(principalOf(req), req.params.id, req.body),
  );
  app.delete(
    "/extensions/:id",
    {
      schema: {
        tags,
        summary: "Soft-delete an extension; its registrations end",
        params: IdParams,
        response: one,
      },
    },
    (req) => ext.remove(principalOf(req), req.params.id),
  );
  app.post(
    "/extensions/:id/direct-hash-regenerate",
    {
      schema: {
        tags,
        summary: "Draw a new direct hash; the old one stops resolving at once",
        params: IdParams,
        response: one,
      },
    },
    (req) => ext.regenerateDirectHash(principalOf(req), req.params.id),
  );
};
