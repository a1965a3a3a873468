// Writes that tell of themselves (CONTRACT §11): a change and its events in one transaction, then
// this node's readers told. Without events (or with SIPEXT_EVENTS=false) the change alone. A
// credential change also carries its audit record (CONTRACT §17), always in the same transaction.
import type { Kysely, Transaction } from "kysely";
import { type AuditDraft, appendAudit } from "./audit.js";
import { type EventDraft, type EventNotifier, eventAppender } from "./events.js";
import type { Database } from "./schema.js";

export interface Outbox {
  /**
   * Runs `work` and, when it reports a change (true), appends `events` of `customerId` and the
   * `audit` record in the same transaction. Resolves with what `work` returned.
   */
  write(
    customerId: string,
    events: EventDraft | readonly EventDraft[] | undefined,
    work: (q: Kysely<Database> | Transaction<Database>) => Promise<boolean>,
    audit?: AuditDraft,
  ): Promise<boolean>;
  /**
   * Runs `work` in one transaction and appends the events it returns, by customer: the writes of
   * many customers at once (a batch of call records). Customers' event counters are row locks
   * held to the commit, so they are taken in one order on every node (no deadlock).
   */
  writeMany(
    work: (tx: Transaction<Database>) => Promise<ReadonlyMap<string, readonly EventDraft[]>>,
  ): Promise<void>;
  /** Tells this node's readers that `customerId` has new events (after a commit done elsewhere). */
  published(customerId: string): void;
}

export function outboxOf(db: Kysely<Database>, o: { notifier?: EventNotifier; events?: boolean }): Outbox {
  const published = (customerId: string) => o.notifier?.published(customerId);
  const appendEvents = eventAppender(db);
  return {
    async write(customerId, events, work, audit) {
      const given = events === undefined ? [] : Array.isArray(events) ? events : [events as EventDraft];
      const drafts = o.events === false ? [] : given;
      if (drafts.length === 0 && audit === undefined) return work(db);
      const changed = await db.transaction().execute(async (tx) => {
        const done = await work(tx);
        if (done) await appendEvents(tx, customerId, drafts);
        if (done && audit) await appendAudit(tx, customerId, audit);
        return done;
      });
      if (changed && drafts.length > 0) published(customerId);
      return changed;
    },
    async writeMany(work) {
      const told = await db.transaction().execute(async (tx) => {
        const events = await work(tx);
        if (o.events === false) return [];
        const customers = [...events.keys()].filter((c) => (events.get(c)?.length ?? 0) > 0).sort();
        for (const c of customers) await appendEvents(tx, c, events.get(c) ?? []);
        return customers;
      });
      for (const c of told) published(c);
    },
    published,
  };
}
