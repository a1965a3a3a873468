// The newest `tm_create` among one customer's rows of a table: what a new row's time must come
// after (src/domain/unique-time.ts keeps `(customer_id, tm_create)` unique per table, so paging by
// that timestamp never skips or repeats).
import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

/** Tables whose rows belong to one customer and are ordered by their `tm_create`. */
export type CustomerTimeline =
  | "domains"
  | "access_keys"
  | "extensions"
  | "webhook_deliveries"
  | "audit_events";

/** The newest `tm_create` of the customer's rows in `name` (a transaction's too); undefined: none. */
export async function newestTmCreate(
  q: Kysely<Database>,
  name: CustomerTimeline,
  customerId: string,
): Promise<string | undefined> {
  // Kysely cannot follow a table named by a union through its column types: the query is written
  // against `domains`, whose two columns used here every table of the union has.
  const table = name as CustomerTimeline as "domains";
  const r = await q
    .selectFrom(table)
    .select("tm_create")
    .where("customer_id", "=", customerId)
    .orderBy("tm_create", "desc")
    .limit(1)
    .executeTakeFirst();
  return r?.tm_create;
}
