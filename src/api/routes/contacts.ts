import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { principalOf } from "../plugins/auth.js";
import { ContactList, IdParams, withErrors } from "../schemas.js";
import type { ApiServices } from "../services.js";

export const contactRoutes: FastifyPluginAsyncTypebox<{ services: ApiServices }> = async (
  app,
  { services },
) => {
  const tags = ["extensions"];
  app.get(
    "/extensions/:id/contacts",
    {
      schema: {
        tags,
        summary: "The devices registered to the extension",
        params: IdParams,
        response: withErrors({ 200: ContactList }),
      },
    },
    (req) => services.contacts.list(principalOf(req), req.params.id),
  );
  app.delete(
    "/extensions/:id/contacts",
    {
      schema: {
        tags,
        summary: "Force-unregister every device; answers with the contacts removed",
        params: IdParams,
        response: withErrors({ 200: ContactList }),
      },
    },
    (req) => services.contacts.removeAll(principalOf(req), req.params.id),
  );
};
