// Call records in SQL (CONTRACT §13): created when the proxy forks a call, updated at its answer
// and its end, written in batches — the rows and their events (call_started, call_answered,
// call_ended) in one transaction, with statements compiled once.
import type { Kysely } from "kysely";
import { compiledRows } from "./compiled-rows.js";
import type { EventDraft } from "./events.js";
import type { Outbox } from "./outbox.js";
import type { PageQuery } from "./ports.js";
import type { CallsTable, Database } from "./schema.js";

export type CallRow = CallsTable;

/** A call's row as it now is, to write with the events that tell how it got there. */
export interface CallChange {
  row: CallRow;
  /** the status the stored row has (the write is skipped when it no longer has it); null: a new row */
  from: string | null;
  events: readonly EventDraft[];
}

export interface CallStore {
  /**
   * Writes the changes and the events of those that took effect in one transaction; tells for
   * each change whether it did (a new row always does; an update only while the stored row still
   * has its `from` status).
   */
  apply(changes: readonly CallChange[]): Promise<boolean[]>;
  get(customerId: string, id: string): Promise<CallRow | undefined>;
  /** Newest first; with `extensionId`, the calls to or from that extension. */
  list(customerId: string, page: PageQuery, extensionId?: string): Promise<CallRow[]>;
  /** Answered calls with this Call-ID (a BYE ends them). */
  answeredByCallId(callId: string): Promise<CallRow[]>;
  /** Calls still answered that started before `before` (never hung up). */
  answeredBefore(before: string, limit: number): Promise<CallRow[]>;
}

/** What a change of status rewrites (the rest is set when the call starts). */
const MUTABLE = ["status", "result", "sip_code", "tm_answer", "tm_end", "duration_ms"] as const;
const COLUMNS = Object.keys({
  id: 0,
  customer_id: 0,
  call_id: 0,
  from_uri: 0,
  to_uri: 0,
  extension_id: 0,
  caller_extension_id: 0,
  direct: 0,
  source: 0,
  status: 0,
  result: 0,
  sip_code: 0,
  tm_create: 0,
  tm_answer: 0,
  tm_end: 0,
  duration_ms: 0,
} satisfies Record<keyof CallRow, 0>) as (keyof CallRow)[];

/** The update's key and condition, as columns of one "row" (src/store/compiled-rows.ts). */
type UpdateRow = Pick<CallRow, (typeof MUTABLE)[number] | "id" | "customer_id"> & { from: string };

export function sqlCallStore(db: Kysely<Database>, outbox: Outbox): CallStore {
  const inserts = compiledRows<CallRow>(COLUMNS, (rows) => db.insertInto("calls").values(rows));
  const updates = compiledRows<UpdateRow>(
    [...MUTABLE, "id", "customer_id", "from"],
    ([r]) =>
      db
        .updateTable("calls")
        .set(Object.fromEntries(MUTABLE.map((c) => [c, r?.[c]])))
        .where("id", "=", r?.id ?? "")
        .where("customer_id", "=", r?.customer_id ?? "")
        .where("status", "=", r?.from ?? ""),
    [1],
  );
  return {
    async apply(changes) {
      const done = changes.map((c) => c.from === null);
      const events = new Map<string, EventDraft[]>();
      await outbox.writeMany(async (tx) => {
        for (const q of inserts(changes.flatMap((c) => (c.from === null ? [c.row] : [])))) {
          await tx.executeQuery(q);
        }
        // Updates in one order (by id) on every node: rows are locked to the commit.
        const order = changes.map((_, i) => i).filter((i) => changes[i]?.from !== null);
        order.sort((i, j) => ((changes[i]?.row.id ?? "") < (changes[j]?.row.id ?? "") ? -1 : 1));
        for (const i of order) {
          const c = changes[i] as CallChange;
          const [q] = updates([{ ...c.row, from: c.from ?? "" }]);
          const r = q ? await tx.executeQuery(q) : undefined;
          done[i] = Number(r?.numAffectedRows ?? 0) > 0;
        }
        changes.forEach((c, i) => {
          if (!done[i] || c.events.length === 0) return;
          const list = events.get(c.row.customer_id) ?? [];
          list.push(...c.events);
          events.set(c.row.customer_id, list);
        });
        return events;
      });
      return done;
    },
    get: (customerId, id) =>
      db
        .selectFrom("calls")
        .selectAll()
        .where("id", "=", id)
        .where("customer_id", "=", customerId)
        .executeTakeFirst(),
    list(customerId, page, extensionId) {
      let q = db.selectFrom("calls").selectAll().where("customer_id", "=", customerId);
      if (extensionId !== undefined) {
        q = q.where((eb) =>
          eb.or([eb("extension_id", "=", extensionId), eb("caller_extension_id", "=", extensionId)]),
        );
      }
      if (page.before !== undefined) q = q.where("tm_create", "<", page.before);
      return q.orderBy("tm_create", "desc").orderBy("id", "desc").limit(page.limit).execute();
    },
    answeredByCallId: (callId) =>
      db
        .selectFrom("calls")
        .selectAll()
        .where("call_id", "=", callId)
        .where("status", "=", "answered")
        .execute(),
    answeredBefore: (before, limit) =>
      db
        .selectFrom("calls")
        .selectAll()
        .where("status", "=", "answered")
        .where("tm_create", "<", before)
        .limit(limit)
        .execute(),
  };
}
