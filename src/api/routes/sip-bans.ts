import { SipBan, SipBanList } from "../../contract/sip-ban.js";
import { principalOf } from "../plugins/auth.js";
import { IdParams, route } from "../schemas.js";
import type { Routes } from "../services.js";

export const sipBanRoutes: Routes = async (app, { services }) => {
  const tags = ["sip-bans"];
  app.get(
    "/sip-bans",
    route(tags, SipBanList, {
      summary: "Source addresses banned after failed digest answers to this customer's extensions",
    }),
    (req) => services.sipBans.list(principalOf(req)),
  );
  app.delete(
    "/sip-bans/:id",
    route(tags, SipBan, {
      summary: "Lift a ban: the source may register and call again at once",
      params: IdParams,
    }),
    (req) => services.sipBans.lift(principalOf(req), req.params.id),
  );
};
