import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { principalOf } from "../plugins/auth.js";
import { Customer, Me, withErrors } from "../schemas.js";
import type { ApiServices } from "../services.js";

export const identityRoutes: FastifyPluginAsyncTypebox<{ services: ApiServices }> = async (
  app,
  { services },
) => {
  app.get(
    "/customer",
    {
      schema: {
        tags: ["identity"],
        summary: "The caller's customer",
        response: withErrors({ 200: Customer }),
      },
    },
    (req) => services.tenants.customer(principalOf(req)),
  );
  app.get(
    "/me",
    {
      schema: {
        tags: ["identity"],
        summary: "The caller: the logged-in user, or the access key",
        response: withErrors({ 200: Me }),
      },
    },
    (req) => services.auth.me(principalOf(req)),
  );
};
