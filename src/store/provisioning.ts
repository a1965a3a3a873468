// Provisioning links in SQL (CONTRACT §17): only the SHA-256 of a link's token is stored. Issuing,
// revoking and every fetch write their audit record (and a fetch its event) in one transaction.
import type { Kysely } from "kysely";
import type { AuditDraft } from "./audit.js";
import type { EventDraft } from "./events.js";
import type { Outbox } from "./outbox.js";
import type { Database, ProvisioningLinksTable } from "./schema.js";

export type ProvisioningLinkRow = ProvisioningLinksTable;

export interface ProvisioningStore {
  insert(row: ProvisioningLinkRow, audit: AuditDraft): Promise<void>;
  get(customerId: string, id: string): Promise<ProvisioningLinkRow | undefined>;
  getByTokenHash(tokenHash: string): Promise<ProvisioningLinkRow | undefined>;
  /** Revokes a link not yet revoked; false when there is none. */
  revoke(row: ProvisioningLinkRow, now: string, audit: AuditDraft): Promise<boolean>;
  /** Records a fetch: its event and its audit record, together. */
  used(row: ProvisioningLinkRow, event: EventDraft, audit: AuditDraft): Promise<void>;
  /** Forgets links that ended before `before`. */
  deleteEndedBefore(before: string): Promise<number>;
}

export function sqlProvisioningStore(db: Kysely<Database>, outbox: Outbox): ProvisioningStore {
  return {
    async insert(row, audit) {
      await outbox.write(
        row.customer_id,
        undefined,
        async (q) => {
          await q.insertInto("provisioning_links").values(row).execute();
          return true;
        },
        audit,
      );
    },
    get: (customerId, id) =>
      db
        .selectFrom("provisioning_links")
        .selectAll()
        .where("id", "=", id)
        .where("customer_id", "=", customerId)
        .executeTakeFirst(),
    getByTokenHash: (tokenHash) =>
      db.selectFrom("provisioning_links").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst(),
    revoke: (row, now, audit) =>
      outbox.write(
        row.customer_id,
        undefined,
        async (q) => {
          const r = await q
            .updateTable("provisioning_links")
            .set({ tm_delete: now })
            .where("id", "=", row.id)
            .where("tm_delete", "is", null)
            .executeTakeFirst();
          return Number(r.numUpdatedRows) > 0;
        },
        audit,
      ),
    async used(row, event, audit) {
      await outbox.write(row.customer_id, event, async () => true, audit);
    },
    async deleteEndedBefore(before) {
      const r = await db
        .deleteFrom("provisioning_links")
        .where((eb) => eb.or([eb("tm_expire", "<", before), eb("tm_delete", "<", before)]))
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
