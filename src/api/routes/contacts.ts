import { ContactList } from "../../contract/contact.js";
import { principalOf } from "../plugins/auth.js";
import { IdParams, route } from "../schemas.js";
import type { Routes } from "../services.js";

export const contactRoutes: Routes = async (app, { services }) => {
  const contacts = (summary: string) => route(["extensions"], ContactList, { summary, params: IdParams });
  app.get("/extensions/:id/contacts", contacts("The devices registered to the extension"), (req) =>
    services.contacts.list(principalOf(req), req.params.id),
  );
  app.delete(
    "/extensions/:id/contacts",
    contacts("Force-unregister every device; answers with the contacts removed"),
    (req) => services.contacts.removeAll(principalOf(req), req.params.id),
  );
};
