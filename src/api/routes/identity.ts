import { Customer } from "../../contract/customer.js";
import { Me } from "../../contract/user.js";
import { principalOf } from "../plugins/auth.js";
import { route } from "../schemas.js";
import type { Routes } from "../services.js";

export const identityRoutes: Routes = async (app, { services }) => {
  const tags = ["identity"];
  app.get(
    "/customer",
    route(tags, Customer, { summary: "The caller's customer" }, { anyRole: true }),
    (req) => services.tenants.customer(principalOf(req)),
  );
  app.get(
    "/me",
    route(tags, Me, { summary: "The caller: the logged-in user, or the access key" }, { anyRole: true }),
    (req) => services.auth.me(principalOf(req)),
  );
};
