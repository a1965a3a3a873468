import { Call, CallListQuery } from "../../contract/call.js";
import { Page } from "../../contract/common.js";
import { principalOf } from "../plugins/auth.js";
import { IdParams, route } from "../schemas.js";
import type { Routes } from "../services.js";

export const callRoutes: Routes = async (app, { services }) => {
  const tags = ["calls"];
  app.get(
    "/calls",
    route(tags, Page(Call), { summary: "The customer's calls, newest first", querystring: CallListQuery }),
    (req) => services.calls.list(principalOf(req), req.query),
  );
  app.get("/calls/:id", route(tags, Call, { summary: "One call record", params: IdParams }), (req) =>
    services.calls.get(principalOf(req), req.params.id),
  );
};
