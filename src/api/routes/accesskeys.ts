import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { principalOf } from "../plugins/auth.js";
import {
  AccessKey,
  CreateAccessKeyBody,
  CreatedAccessKey,
  IdParams,
  Page,
  PageQuery,
  UpdateAccessKeyBody,
  withErrors,
} from "../schemas.js";
import type { ApiServices } from "../services.js";

export const accessKeyRoutes: FastifyPluginAsyncTypebox<{ services: ApiServices }> = async (
  app,
  { services },
) => {
  const keys = services.accessKeys;
  const tags = ["accesskeys"];
  app.post(
    "/accesskeys",
    {
      schema: {
        tags,
        summary: "Create an access key; the token is in this answer only",
        body: CreateAccessKeyBody,
        response: withErrors({ 200: CreatedAccessKey }),
      },
    },
    (req) => keys.create(principalOf(req), req.body),
  );
  app.get(
    "/accesskeys",
    { schema: { tags, querystring: PageQuery, response: withErrors({ 200: Page(AccessKey) }) } },
    (req) => keys.list(principalOf(req), req.query),
  );
  app.get(
    "/accesskeys/:id",
    { schema: { tags, params: IdParams, response: withErrors({ 200: AccessKey }) } },
    (req) => keys.get(principalOf(req), req.params.id),
  );
  app.put(
    "/accesskeys/:id",
    {
      schema: { tags, params: IdParams, body: UpdateAccessKeyBody, response: withErrors({ 200: AccessKey }) },
    },
    (req) => keys.update(principalOf(req), req.params.id, req.body),
  );
  app.delete(
    "/accesskeys/:id",
    { schema: { tags, params: IdParams, response: withErrors({ 200: AccessKey }) } },
    (req) => keys.remove(principalOf(req), req.params.id),
  );
};
