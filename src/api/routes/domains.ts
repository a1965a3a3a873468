import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { principalOf } from "../plugins/auth.js";
import { Domain, IdParams, Page, PageQuery, withErrors } from "../schemas.js";
import type { ApiServices } from "../services.js";

export const domainRoutes: FastifyPluginAsyncTypebox<{ services: ApiServices }> = async (
  app,
  { services },
) => {
  app.get(
    "/domains",
    {
      schema: {
        tags: ["domains"],
        summary: "The customer's SIP domains",
        querystring: PageQuery,
        response: withErrors({ 200: Page(Domain) }),
      },
    },
    (req) => services.tenants.listDomains(principalOf(req), req.query),
  );
  app.get(
    "/domains/:id",
    { schema: { tags: ["domains"], params: IdParams, response: withErrors({ 200: Domain }) } },
    (req) => services.tenants.getDomain(principalOf(req), req.params.id),
  );
};
