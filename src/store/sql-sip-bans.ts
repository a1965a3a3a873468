// Source bans in SQL (CONTRACT §14): written when a ban starts, read at start-up and by the
// customers whose extensions the failures targeted, deleted when lifted or expired. A ban's
// start and its lifting are events of that customer (sip_ban_created/deleted, CONTRACT §11).
import type { Kysely } from "kysely";
import type { EventDraft } from "./events.js";
import type { Outbox } from "./outbox.js";
import type { SipBanRow, SipBanStore } from "./ports.js";
import type { Database } from "./schema.js";

/** A customer sees at most this many bans at once (a flood of guessers is summarised, not listed). */
const MAX_LISTED = 1000;

export function sqlSipBanStore(db: Kysely<Database>, outbox: Outbox): SipBanStore {
  /** A ban of no customer (failures against a domain that is not one) tells nobody. */
  const eventOf = (row: SipBanRow, event: EventDraft | undefined) =>
    row.customer_id === null ? undefined : event;
  return {
    async insert(row, event) {
      await outbox.write(row.customer_id ?? "", eventOf(row, event), async (q) => {
        await q.insertInto("sip_bans").values(row).execute();
        return true;
      });
    },
    listActive: (customerId, now) =>
      db
        .selectFrom("sip_bans")
        .selectAll()
        .where("customer_id", "=", customerId)
        .where("tm_expire", ">", now)
        .orderBy("tm_create", "desc")
        .limit(MAX_LISTED)
        .execute(),
    get: (customerId, id) =>
      db
        .selectFrom("sip_bans")
        .selectAll()
        .where("id", "=", id)
        .where("customer_id", "=", customerId)
        .executeTakeFirst(),
    loadActive: (now) => db.selectFrom("sip_bans").selectAll().where("tm_expire", ">", now).execute(),
    async delete(row, event, audit) {
      await outbox.write(
        row.customer_id ?? "",
        eventOf(row, event),
        async (q) => {
          const r = await q.deleteFrom("sip_bans").where("id", "=", row.id).executeTakeFirst();
          return Number(r.numDeletedRows) > 0;
        },
        row.customer_id === null ? undefined : audit,
      );
    },
    async deleteExpired(now) {
      const r = await db.deleteFrom("sip_bans").where("tm_expire", "<=", now).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
