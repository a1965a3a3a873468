import type { Kysely } from "kysely";

// CONTRACT §17. Provisioning links: only the SHA-256 of a link's token is kept, as for access
// keys; a link is revoked by setting tm_delete and ends by itself at tm_expire. The audit log: one
// row per credential action, written in the transaction of the change; `customers.audit_seq` is
// incremented in that transaction, which serialises one customer's audit writes so that each
// gets a tm_create after the one before (tm_create is the page token: unique per customer).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("provisioning_links")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("extension_id", "text", (c) => c.notNull())
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("tm_expire", "text", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("tm_delete", "text")
    .execute();
  await db.schema
    .createIndex("provisioning_links_extension")
    .on("provisioning_links")
    .columns(["customer_id", "extension_id"])
    .execute();

  await db.schema
    .alterTable("customers")
    .addColumn("audit_seq", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable("audit_events")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    /** the extension acted on; "" for an access key, a user or a ban */
    .addColumn("extension_id", "text", (c) => c.notNull())
    /** what was acted on: its id (extension, link, access key, user, ban) */
    .addColumn("target_id", "text", (c) => c.notNull())
    /** a user id, an access key's prefix, `cli`, or `provisioning` for a fetched link */
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    /** JSON array of the changed field NAMES (never values) */
    .addColumn("fields", "text", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("audit_events_time")
    .on("audit_events")
    .columns(["customer_id", "tm_create"])
    .unique()
    .execute();
  await db.schema
    .createIndex("audit_events_extension")
    .on("audit_events")
    .columns(["customer_id", "extension_id", "tm_create"])
    .execute();
}
