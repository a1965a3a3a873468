// The event outbox (CONTRACT §11). An event is appended in the transaction of the change it
// tells of: the customer's counter (`customers.event_seq`) is incremented in that transaction,
// which locks the customer's row until commit, so numbers follow commit order and a reader never
// sees seq N+1 before N (no gap appears that a later commit would fill). After the commit the
// notifier tells this node's readers (SSE streams, the webhook worker) there is more to read.
import type { Kysely, Transaction } from "kysely";
import { timeOrderedUuid } from "../util/uuid.js";
import { compiledRows } from "./compiled-rows.js";
import type { Database, EventsTable } from "./schema.js";

/** An event to append: what the change's code knows (the store numbers and stamps it). */
export interface EventDraft {
  type: string;
  data: unknown;
  /** seed-format timestamp of the change */
  tmCreate: string;
}

export type EventRow = EventsTable;

/** Who wants to hear that a customer has new events (same process). */
export class EventNotifier {
  private readonly listeners = new Map<string, Set<() => void>>();
  /** told of every customer's news (the webhook worker) */
  private readonly everyone = new Set<(customerId: string) => void>();

  subscribe(customerId: string, fn: () => void): () => void {
    let set = this.listeners.get(customerId);
    if (!set) {
      set = new Set();
      this.listeners.set(customerId, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(customerId);
    };
  }

  /** Hears of every customer's new events, with the customer's id. */
  subscribeAll(fn: (customerId: string) => void): () => void {
    this.everyone.add(fn);
    return () => this.everyone.delete(fn);
  }

  published(customerId: string): void {
    for (const fn of this.listeners.get(customerId) ?? []) fn();
    for (const fn of this.everyone) fn(customerId);
  }
}

/** Appends events of one customer inside the caller's transaction. */
export type AppendEvents = (
  tx: Kysely<Database> | Transaction<Database>,
  customerId: string,
  drafts: readonly EventDraft[],
) => Promise<void>;

const EVENT_COLUMNS = [
  "customer_id",
  "seq",
  "id",
  "type",
  "tm_create",
  "data",
] as const satisfies readonly (keyof EventsTable)[];

/**
 * The appender of `db`'s dialect, with its statements compiled once (src/store/compiled-rows.ts):
 * events are written with every registration and call, and building the queries anew cost more
 * than running them.
 */
export function eventAppender(db: Kysely<Database>): AppendEvents {
  const counters = compiledRows<{ id: string; n: number }>(
    ["id", "n"],
    ([r]) =>
      db
        .updateTable("customers")
        .set((eb) => ({ event_seq: eb("event_seq", "+", r?.n ?? 0) }))
        .where("id", "=", r?.id ?? "")
        .returning("event_seq"),
    [1],
  );
  const inserts = compiledRows<EventsTable>(EVENT_COLUMNS, (rows) => db.insertInto("events").values(rows));
  return async (tx, customerId, drafts) => {
    if (drafts.length === 0) return;
    const [counter] = counters([{ id: customerId, n: drafts.length }]);
    const r = counter ? await tx.executeQuery<{ event_seq: number | string }>(counter) : undefined;
    const seq = r?.rows[0]?.event_seq;
    // A customer that is gone (a race with its deletion) has nobody to tell.
    if (seq === undefined) return;
    const first = Number(seq) - drafts.length + 1;
    const rows = drafts.map((d, i) => ({
      customer_id: customerId,
      seq: first + i,
      id: timeOrderedUuid(),
      type: d.type,
      tm_create: d.tmCreate,
      data: JSON.stringify(d.data),
    }));
    for (const q of inserts(rows)) await tx.executeQuery(q);
  };
}

export interface EventQuery {
  after: number;
  limit: number;
  /** exact types, or prefixes ending with `*` (`extension_*`); empty: every type */
  types: readonly string[];
}

export interface EventStore {
  /** The customer's events after `after`, oldest first. */
  listAfter(customerId: string, q: EventQuery): Promise<EventRow[]>;
  /** The customer's newest seq (0 when none). */
  latestSeq(customerId: string): Promise<number>;
  /** Drops events created before `before` (kept 7 days). */
  deleteBefore(before: string): Promise<number>;
}

export function sqlEventStore(db: Kysely<Database>): EventStore {
  return {
    listAfter(customerId, q) {
      let query = db
        .selectFrom("events")
        .selectAll()
        .where("customer_id", "=", customerId)
        .where("seq", ">", q.after);
      if (q.types.length > 0) {
        query = query.where((eb) =>
          eb.or(
            q.types.map((t) =>
              t.endsWith("*")
                ? eb(eb.fn("substr", ["type", eb.val(1), eb.val(t.length - 1)]), "=", t.slice(0, -1))
                : eb("type", "=", t),
            ),
          ),
        );
      }
      return query.orderBy("seq", "asc").limit(q.limit).execute();
    },
    async latestSeq(customerId) {
      const r = await db
        .selectFrom("customers")
        .select("event_seq")
        .where("id", "=", customerId)
        .executeTakeFirst();
      return Number(r?.event_seq ?? 0);
    },
    async deleteBefore(before) {
      const r = await db.deleteFrom("events").where("tm_create", "<", before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
