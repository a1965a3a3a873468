import type { Kysely } from "kysely";

// Which node holds a binding (CONTRACT §15): the node a phone registered through, and where
// that node is reached (its advertised SIP host:port). A request for a phone on a TCP, TLS or
// WebSocket connection must go through the node that holds the connection.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("bindings")
    .addColumn("node_id", "text", (c) => c.notNull().defaultTo(""))
    .execute();
  await db.schema
    .alterTable("bindings")
    .addColumn("node_address", "text", (c) => c.notNull().defaultTo(""))
    .execute();
}
