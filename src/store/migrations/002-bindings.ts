import type { Kysely } from "kysely";

// Registrar bindings (RFC 3261 §10.3), kept so that a restart keeps registrations.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("bindings")
    .addColumn("extension_id", "text", (c) => c.notNull().references("extensions.id"))
    .addColumn("contact", "text", (c) => c.notNull())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("received_ip", "text", (c) => c.notNull())
    .addColumn("received_port", "integer", (c) => c.notNull())
    .addColumn("transport", "text", (c) => c.notNull())
    .addColumn("user_agent", "text", (c) => c.notNull())
    .addColumn("call_id", "text", (c) => c.notNull())
    .addColumn("cseq", "integer", (c) => c.notNull())
    .addColumn("instance_id", "text", (c) => c.notNull())
    .addColumn("expires", "integer", (c) => c.notNull())
    .addColumn("tm_expire", "text", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("tm_update", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("bindings_pk", ["extension_id", "contact"])
    .execute();
  await db.schema.createIndex("bindings_tm_expire").on("bindings").column("tm_expire").execute();
}
