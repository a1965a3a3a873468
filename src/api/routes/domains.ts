import { Page, PageQuery } from "../../contract/common.js";
import { Domain } from "../../contract/domain.js";
import { principalOf } from "../plugins/auth.js";
import { IdParams, route } from "../schemas.js";
import type { Routes } from "../services.js";

export const domainRoutes: Routes = async (app, { services }) => {
  const tags = ["domains"];
  app.get(
    "/domains",
    route(tags, Page(Domain), { summary: "The customer's SIP domains", querystring: PageQuery }),
    (req) => services.tenants.listDomains(principalOf(req), req.query),
  );
  app.get(
    "/domains/:id",
    route(tags, Domain, { summary: "One SIP domain of the customer", params: IdParams }),
    (req) => services.tenants.getDomain(principalOf(req), req.params.id),
  );
};
