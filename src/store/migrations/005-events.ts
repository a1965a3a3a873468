import { type Kysely, sql } from "kysely";

// The event outbox (CONTRACT §11), written in the transaction of the change it tells of: each
// customer's events are numbered by a counter on its row (`event_seq`), incremented in that
// transaction, so `seq` grows with commit order and no reader ever sees a gap close later. The
// customer's webhook (its target, its secret sealed like passwords, how far delivery got and
// which node delivers) and the delivery log; call records (§13).
export async function up(db: Kysely<unknown>): Promise<void> {
  const customers = db.schema.alterTable("customers");
  await customers.addColumn("event_seq", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await customers.addColumn("webhook_method", "text", (c) => c.notNull().defaultTo("")).execute();
  await customers.addColumn("webhook_uri", "text", (c) => c.notNull().defaultTo("")).execute();
  await customers.addColumn("webhook_secret_enc", "text").execute();
  /** the seq of the last event delivered (or given up on) */
  await customers.addColumn("webhook_cursor", "integer", (c) => c.notNull().defaultTo(0)).execute();
  /** the node delivering this customer's events, and until when (several nodes: one delivers) */
  await customers.addColumn("webhook_lease_owner", "text", (c) => c.notNull().defaultTo("")).execute();
  await customers.addColumn("webhook_lease_until", "text", (c) => c.notNull().defaultTo("")).execute();

  await db.schema
    .createTable("events")
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("id", "text", (c) => c.notNull().unique())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("data", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("events_pk", ["customer_id", "seq"])
    .execute();
  await db.schema.createIndex("events_tm_create").on("events").column("tm_create").execute();

  await db.schema
    .createTable("webhook_deliveries")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("event_seq", "integer", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    /** delivered | failed (a try that will be retried) | given_up */
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("http_status", "integer", (c) => c.notNull())
    .addColumn("error", "text", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("webhook_deliveries_customer")
    .on("webhook_deliveries")
    .columns(["customer_id", "tm_create"])
    .execute();

  await db.schema
    .createTable("calls")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("call_id", "text", (c) => c.notNull())
    .addColumn("from_uri", "text", (c) => c.notNull())
    .addColumn("to_uri", "text", (c) => c.notNull())
    .addColumn("extension_id", "text", (c) => c.notNull())
    .addColumn("caller_extension_id", "text", (c) => c.notNull())
    .addColumn("direct", "integer", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("result", "text", (c) => c.notNull())
    .addColumn("sip_code", "integer", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("tm_answer", "text", (c) => c.notNull())
    .addColumn("tm_end", "text", (c) => c.notNull())
    .addColumn("duration_ms", "integer", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("calls_customer").on("calls").columns(["customer_id", "tm_create"]).execute();
  await sql`CREATE INDEX calls_extension ON calls (extension_id, tm_create)`.execute(db);
  // A BYE names its call by Call-ID only (the proxy keeps no dialog state).
  await db.schema.createIndex("calls_call_id").on("calls").column("call_id").execute();
}
