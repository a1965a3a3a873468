// The audit log (CONTRACT §17): one row per credential action, appended in the transaction of the
// change it records. The customer's `audit_seq` is incremented first in that transaction, which
// locks the customer's row until commit (PostgreSQL; SQLite has one writer), so the customer's
// audit writes take turns and each one's tm_create is after the one before: tm_create, the page
// token, is unique per customer and paging never skips or repeats a record (CONTRACT §3).
import { randomUUID } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import { formatMicros, parseTimestamp } from "../util/time.js";
import { newestTmCreate } from "./newest.js";
import type { PageQuery } from "./ports.js";
import type { AuditEventsTable, Database } from "./schema.js";

/** What the domain knows of a credential action; the store numbers and stamps it. */
export interface AuditDraft {
  action: string;
  /** the extension acted on, "" for none */
  extensionId: string;
  /** what was acted on (extension, link, access key, user, ban) */
  targetId: string;
  /** a user id, an access key's prefix, `cli` */
  actor: string;
  source: string;
  /** the changed field NAMES, never their values */
  fields: readonly string[];
  /** seed-format time of the change */
  tmCreate: string;
}

export type AuditRow = AuditEventsTable;

/** Appends one audit record of `customerId` inside the caller's transaction. */
export async function appendAudit(
  tx: Kysely<Database> | Transaction<Database>,
  customerId: string,
  d: AuditDraft,
): Promise<void> {
  const counter = await tx
    .updateTable("customers")
    .set((eb) => ({ audit_seq: eb("audit_seq", "+", 1) }))
    .where("id", "=", customerId)
    .returning("audit_seq")
    .executeTakeFirst();
  if (!counter) return; // the customer is gone: nothing left to account for
  const last = await newestTmCreate(tx, "audit_events", customerId);
  const want = parseTimestamp(d.tmCreate) ?? 0;
  const after = last ? (parseTimestamp(last) ?? 0) + 1 : 0;
  await tx
    .insertInto("audit_events")
    .values({
      id: randomUUID(),
      customer_id: customerId,
      seq: Number(counter.audit_seq),
      action: d.action,
      extension_id: d.extensionId,
      target_id: d.targetId,
      actor: d.actor,
      source: d.source,
      fields: JSON.stringify(d.fields),
      tm_create: formatMicros(Math.max(want, after)),
    })
    .execute();
}

export interface AuditQuery extends PageQuery {
  extensionId?: string | undefined;
}

export interface AuditStore {
  /** The customer's records, newest first (keyset on tm_create, unique per customer). */
  list(customerId: string, q: AuditQuery): Promise<AuditRow[]>;
  /** A record of an action that changed no row of ours (force-unregister: bindings are written behind). */
  append(customerId: string, d: AuditDraft): Promise<void>;
}

export function sqlAuditStore(db: Kysely<Database>): AuditStore {
  return {
    list(customerId, q) {
      let query = db.selectFrom("audit_events").selectAll().where("customer_id", "=", customerId);
      if (q.extensionId !== undefined) query = query.where("extension_id", "=", q.extensionId);
      if (q.before !== undefined) query = query.where("tm_create", "<", q.before);
      return query.orderBy("tm_create", "desc").limit(q.limit).execute();
    },
    append: (customerId, d) => db.transaction().execute((tx) => appendAudit(tx, customerId, d)),
  };
}
