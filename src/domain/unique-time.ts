// tm_create doubles as the page token, so it is unique per customer (see the migration). This
// inserts a row and, when another node (or a frozen clock) took the same microsecond, moves it
// just after the customer's newest item and tries again. Other collisions go to `onConflict`,
// which either fixes the row (returns true: try again) or throws.
import { randomInt } from "node:crypto";
import type { AuditDraft } from "../store/audit.js";
import { UniqueViolationError } from "../store/ports.js";
import { formatMicros, type Micros, parseTimestamp } from "../util/time.js";

const MAX_ATTEMPTS = 50;

/** The store of a customer's items, as far as inserting one is concerned. */
export interface InsertStore<R, E = never> {
  insert(row: R, event?: (row: R) => E, audit?: AuditDraft): Promise<unknown>;
  latestTmCreate(customerId: string): Promise<string | undefined>;
}

export async function insertWithUniqueTime<R extends { customer_id: string; tm_create: string }, E = never>(
  row: R,
  store: InsertStore<R, E>,
  onConflict: (field: string) => boolean = () => false,
  /** the event of the row as finally inserted (its tm_create may have moved), in the same transaction */
  event?: (row: R) => E,
  /** the audit record of the insert (CONTRACT §17), in the same transaction */
  audit?: AuditDraft,
): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.insert(row, event, audit);
      return row;
    } catch (err) {
      if (!(err instanceof UniqueViolationError) || attempt >= MAX_ATTEMPTS) throw err;
      if (err.field === "tm_create") {
        const newest = await store.latestTmCreate(row.customer_id);
        const after: Micros = (newest ? (parseTimestamp(newest) ?? 0) : 0) + 1;
        const mine = parseTimestamp(row.tm_create) ?? 0;
        // Concurrent inserts that lost to the same row all read the same newest one: a random
        // step, wider at each attempt (at most ~1 ms), keeps them from colliding again and again.
        const spread = randomInt(Math.min(2 ** attempt, 1024));
        row.tm_create = formatMicros(Math.max(after, mine + 1) + spread);
      } else if (!onConflict(err.field)) {
        throw err;
      }
    }
  }
}
