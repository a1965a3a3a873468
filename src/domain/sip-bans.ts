// The SIP bans a customer may see and lift (CONTRACT §14): those whose failed digest answers
// targeted its extensions. Lifting one ends it at once on the SIP side (through the listeners).
import type { SipBan, SipBanList } from "../contract/sip-ban.js";
import type { SipBanRow, SipBanStore } from "../store/ports.js";
import { type Clock, formatMicros } from "../util/time.js";
import { auditOf } from "./audit.js";
import { notFound } from "./errors.js";
import { requireUuid } from "./ids.js";
import { type Principal, requireRole } from "./principal.js";

export interface SipBanServiceDeps {
  sipBans: SipBanStore;
  clock: Clock;
  /** told the source of a ban lifted through the API (the SIP side lets it in again) */
  onLifted?: Array<(source: string) => void>;
}

export const sipBanView = (r: SipBanRow): SipBan => ({
  id: r.id,
  source: r.source,
  extension_id: r.extension_id,
  failures: r.failures,
  tm_create: r.tm_create,
  tm_expire: r.tm_expire,
});

export function sipBanService({ sipBans, clock, onLifted = [] }: SipBanServiceDeps) {
  return {
    async list(p: Principal): Promise<SipBanList> {
      requireRole(p, ["admin", "manager"]);
      const rows = await sipBans.listActive(p.customerId, formatMicros(clock()));
      return { result: rows.map(sipBanView) };
    },
    /** Lifts a ban in force; answers with it. Another customer's, or an expired one: 404. */
    async lift(p: Principal, id: string): Promise<SipBan> {
      requireRole(p, ["admin", "manager"]);
      const row = await sipBans.get(p.customerId, requireUuid("id", id));
      if (!row || row.tm_expire <= formatMicros(clock())) throw notFound("sip_ban");
      const tmCreate = formatMicros(clock());
      const record = auditOf(
        p,
        "sip_ban_lifted",
        { targetId: row.id, extensionId: row.extension_id ?? "" },
        tmCreate,
      );
      await sipBans.delete(row, { type: "sip_ban_deleted", data: sipBanView(row), tmCreate }, record);
      for (const l of onLifted) l(row.source);
      return sipBanView(row);
    },
  };
}

export type SipBanService = ReturnType<typeof sipBanService>;
