// The customer's webhook in SQL (CONTRACT §11): its settings and sealed secret on the customer's
// row, the delivery log (webhook_deliveries), and what the delivery worker needs to deliver each
// customer's events in order from one node at a time: the cursor (the seq of the last event
// delivered or given up on) and a lease on the row (owner node and an expiry, set and renewed by
// conditional UPDATEs, so two nodes never both believe they hold it).
import type { ExpressionBuilder, Kysely } from "kysely";
import { newestTmCreate } from "./newest.js";
import type { CustomerRow, PageQuery } from "./ports.js";
import type { Database, WebhookDeliveriesTable } from "./schema.js";

export type WebhookDeliveryRow = WebhookDeliveriesTable;

/** The customer fields PUT /v1.0/customer may change. */
export interface CustomerPatch {
  name?: string;
  detail?: string;
  email?: string;
  webhook_method?: string;
  webhook_uri?: string;
  tm_update: string;
}

/** Where and how a customer's events go, and how far they went. */
export interface WebhookTarget {
  uri: string;
  method: string;
  /** the sealed secret; null until one is made */
  secretEnc: string | null;
  cursor: number;
}

export interface WebhookStore {
  /**
   * Updates the customer; answers the row as updated, or undefined when there is none. Setting a
   * webhook where there was none starts its delivery at the customer's next event.
   */
  updateCustomer(id: string, patch: CustomerPatch): Promise<CustomerRow | undefined>;
  setSecret(id: string, sealed: string, tmUpdate: string): Promise<boolean>;
  /** The customer's delivery attempts with tm_create before `page.before`, newest first. */
  listDeliveries(customerId: string, page: PageQuery): Promise<WebhookDeliveryRow[]>;
  insertDelivery(row: WebhookDeliveryRow): Promise<void>;
  deleteDeliveriesBefore(before: string): Promise<number>;

  /** Customers with a webhook and a secret, events past the cursor, and no lease but `owner`'s. */
  due(owner: string, now: string, limit: number): Promise<string[]>;
  /** Those of `ids` that have a webhook and a secret. */
  withWebhook(ids: readonly string[]): Promise<string[]>;
  /** Takes (or keeps) the customer's lease until `until`; false when another node holds it. */
  acquire(id: string, owner: string, now: string, until: string): Promise<boolean>;
  /** Extends a lease `owner` holds; false when it holds it no more. */
  renew(id: string, owner: string, until: string): Promise<boolean>;
  release(id: string, owner: string): Promise<void>;
  target(id: string): Promise<WebhookTarget | undefined>;
  /** Moves the cursor forward to `seq` while `owner` holds the lease; false otherwise. */
  advance(id: string, owner: string, seq: number): Promise<boolean>;
  /** The failed attempts at one event since `since`: when the first was, and how many. */
  attempts(customerId: string, eventId: string, since: string): Promise<{ first?: string; count: number }>;
  latestDeliveryTm(customerId: string): Promise<string | undefined>;
}

export function sqlWebhookStore(db: Kysely<Database>): WebhookStore {
  const changed = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows) > 0;
  /** An UPDATE of the customer's row that does something only while `owner` holds its lease. */
  const whileLeased = (id: string, owner: string) =>
    db.updateTable("customers").where("id", "=", id).where("webhook_lease_owner", "=", owner);
  /** Nobody holds the lease at `now`, or `owner` does. */
  const leaseFree = (now: string, owner: string) => (eb: ExpressionBuilder<Database, "customers">) =>
    eb.or([eb("webhook_lease_until", "<", now), eb("webhook_lease_owner", "=", owner)]);
  return {
    updateCustomer(id, patch) {
      const { webhook_uri, ...rest } = patch;
      return db
        .updateTable("customers")
        .set((eb) => ({
          ...rest,
          ...(webhook_uri === undefined
            ? {}
            : {
                webhook_uri,
                // Right-hand sides read the row as it was: a webhook set where there was none
                // starts after the events that exist now (no flood of the last 7 days).
                webhook_cursor: eb
                  .case()
                  .when("webhook_uri", "=", "")
                  .then(eb.ref("event_seq"))
                  .else(eb.ref("webhook_cursor"))
                  .end(),
              }),
        }))
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst();
    },
    async setSecret(id, sealed, tmUpdate) {
      const r = await db
        .updateTable("customers")
        .set({ webhook_secret_enc: sealed, tm_update: tmUpdate })
        .where("id", "=", id)
        .executeTakeFirst();
      return changed(r);
    },
    listDeliveries(customerId, page) {
      let q = db.selectFrom("webhook_deliveries").selectAll().where("customer_id", "=", customerId);
      if (page.before !== undefined) q = q.where("tm_create", "<", page.before);
      return q.orderBy("tm_create", "desc").orderBy("id", "desc").limit(page.limit).execute();
    },
    async insertDelivery(row) {
      await db.insertInto("webhook_deliveries").values(row).execute();
    },
    async deleteDeliveriesBefore(before) {
      const r = await db.deleteFrom("webhook_deliveries").where("tm_create", "<", before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },

    async due(owner, now, limit) {
      const rows = await db
        .selectFrom("customers")
        .select("id")
        .where("webhook_uri", "<>", "")
        .where("webhook_secret_enc", "is not", null)
        .whereRef("event_seq", ">", "webhook_cursor")
        .where(leaseFree(now, owner))
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },
    async withWebhook(ids) {
      if (ids.length === 0) return [];
      const rows = await db
        .selectFrom("customers")
        .select("id")
        .where("id", "in", ids)
        .where("webhook_uri", "<>", "")
        .where("webhook_secret_enc", "is not", null)
        .execute();
      return rows.map((r) => r.id);
    },
    async acquire(id, owner, now, until) {
      const r = await db
        .updateTable("customers")
        .set({ webhook_lease_owner: owner, webhook_lease_until: until })
        .where("id", "=", id)
        .where("webhook_uri", "<>", "")
        .where(leaseFree(now, owner))
        .executeTakeFirst();
      return changed(r);
    },
    renew: async (id, owner, until) =>
      changed(await whileLeased(id, owner).set({ webhook_lease_until: until }).executeTakeFirst()),
    async release(id, owner) {
      await whileLeased(id, owner).set({ webhook_lease_owner: "", webhook_lease_until: "" }).execute();
    },
    async target(id) {
      const r = await db
        .selectFrom("customers")
        .select(["webhook_uri", "webhook_method", "webhook_secret_enc", "webhook_cursor"])
        .where("id", "=", id)
        .executeTakeFirst();
      return (
        r && {
          uri: r.webhook_uri,
          method: r.webhook_method,
          secretEnc: r.webhook_secret_enc,
          cursor: Number(r.webhook_cursor),
        }
      );
    },
    advance: async (id, owner, seq) =>
      changed(
        await whileLeased(id, owner)
          .set({ webhook_cursor: seq })
          .where("webhook_cursor", "<", seq)
          .executeTakeFirst(),
      ),
    async attempts(customerId, eventId, since) {
      // The (customer_id, tm_create) index bounds the scan to the attempts since the event was made.
      const r = await db
        .selectFrom("webhook_deliveries")
        .select((eb) => [eb.fn.min("tm_create").as("first"), eb.fn.countAll().as("n")])
        .where("customer_id", "=", customerId)
        .where("tm_create", ">=", since)
        .where("event_id", "=", eventId)
        .where("status", "=", "failed")
        .executeTakeFirst();
      return { first: r?.first ?? undefined, count: Number(r?.n ?? 0) };
    },
    latestDeliveryTm: (customerId) => newestTmCreate(db, "webhook_deliveries", customerId),
  };
}
