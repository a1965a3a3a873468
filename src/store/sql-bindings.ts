// The registrar's bindings in SQL: loaded once at start, then written in batches.
import type { Kysely } from "kysely";
import type { BindingStore } from "./ports.js";
import type { Database } from "./schema.js";

export function sqlBindingStore(db: Kysely<Database>): BindingStore {
  return {
    loadLive: (now) => db.selectFrom("bindings").selectAll().where("tm_expire", ">", now).execute(),
    async apply(writes) {
      if (writes.length === 0) return;
      await db.transaction().execute(async (tx) => {
        for (const w of writes) {
          if (w.op === "upsert") {
            // A refresh keeps the binding's first tm_create.
            const r = w.row;
            await tx
              .insertInto("bindings")
              .values(r)
              .onConflict((oc) =>
                oc.columns(["extension_id", "contact"]).doUpdateSet({
                  customer_id: r.customer_id,
                  received_ip: r.received_ip,
                  received_port: r.received_port,
                  transport: r.transport,
                  user_agent: r.user_agent,
                  call_id: r.call_id,
                  cseq: r.cseq,
                  instance_id: r.instance_id,
                  expires: r.expires,
                  tm_expire: r.tm_expire,
                  tm_update: r.tm_update,
                }),
              )
              .execute();
          } else if (w.op === "delete") {
            await tx
              .deleteFrom("bindings")
              .where("extension_id", "=", w.extensionId)
              .where("contact", "=", w.contact)
              .execute();
          } else {
            await tx.deleteFrom("bindings").where("extension_id", "=", w.extensionId).execute();
          }
        }
      });
    },
    async deleteExpired(now) {
      const r = await db.deleteFrom("bindings").where("tm_expire", "<=", now).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
