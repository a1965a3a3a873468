// The location service's store in SQL (the SIP core's LocationStore port): bindings loaded once
// at start, then written in batches; rows (snake_case, seed timestamps) are mapped to and from
// the registrar's Binding here, so the SIP core never sees a row.
import type { CompiledQuery, Kysely } from "kysely";
import type {
  Binding,
  LocationStore,
  LocationWrite,
  StoredBinding,
} from "../sip/registrar/location-store.js";
import type { TransportName } from "../sip/transport/flow.js";
import { compiledRows } from "../store/compiled-rows.js";
import { type EventDraft, eventAppender } from "../store/events.js";
import type { Outbox } from "../store/outbox.js";
import type { BindingsTable, Database } from "../store/schema.js";
import { formatMicros, parseTimestamp } from "../util/time.js";
import { contactView } from "./contact-directory.js";

type BindingRow = BindingsTable;

const COLUMNS = [
  "extension_id",
  "contact",
  "customer_id",
  "received_ip",
  "received_port",
  "transport",
  "user_agent",
  "call_id",
  "cseq",
  "instance_id",
  "expires",
  "tm_expire",
  "tm_create",
  "tm_update",
  "q",
  "reg_id",
  "path",
  "node_id",
  "node_address",
] as const satisfies readonly (keyof BindingRow)[];

/** A refresh rewrites every column but the key and the binding's first tm_create. */
const REFRESHED = COLUMNS.filter((c) => c !== "extension_id" && c !== "contact" && c !== "tm_create");

const TRANSPORTS: readonly string[] = ["UDP", "TCP"] satisfies TransportName[];

function toRow(extensionId: string, customerId: string, b: Binding): BindingRow {
  return {
    extension_id: extensionId,
    contact: b.contact,
    customer_id: customerId,
    received_ip: b.receivedIp,
    received_port: b.receivedPort,
    transport: b.transport,
    user_agent: b.userAgent,
    call_id: b.callId,
    cseq: b.cseq,
    instance_id: b.instanceId,
    expires: b.expires,
    tm_expire: formatMicros(b.expireAt),
    tm_create: formatMicros(b.createdAt),
    tm_update: formatMicros(b.updatedAt),
    q: b.q ?? null,
    reg_id: b.regId ?? null,
    node_id: b.node,
    node_address: b.nodeAddress,
    path: b.path.length > 0 ? JSON.stringify(b.path) : "",
  };
}

const NO_PATH: readonly string[] = Object.freeze([]);

function readPath(text: string): readonly string[] {
  if (text === "") return NO_PATH;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : NO_PATH;
  } catch {
    return NO_PATH;
  }
}

function fromRow(r: BindingRow): StoredBinding {
  const transport = r.transport.toUpperCase();
  return {
    extensionId: r.extension_id,
    customerId: r.customer_id,
    binding: {
      contact: r.contact,
      receivedIp: r.received_ip,
      receivedPort: Number(r.received_port),
      // Rows are only ever written from a Binding; an unknown name can only be a hand edit.
      transport: (TRANSPORTS.includes(transport) ? transport : "UDP") as TransportName,
      userAgent: r.user_agent,
      callId: r.call_id,
      cseq: Number(r.cseq),
      instanceId: r.instance_id,
      regId: r.reg_id === null ? undefined : Number(r.reg_id),
      q: r.q === null ? undefined : Number(r.q),
      path: readPath(r.path),
      node: r.node_id,
      nodeAddress: r.node_address,
      expires: Number(r.expires),
      expireAt: parseTimestamp(r.tm_expire) ?? 0,
      createdAt: parseTimestamp(r.tm_create) ?? 0,
      updatedAt: parseTimestamp(r.tm_update) ?? 0,
    },
  };
}

/** What the store tells of the location service's writes (CONTRACT §11); off: nothing. */
export interface LocationEvents {
  events: boolean;
  outbox?: Pick<Outbox, "published">;
  /** the clock the events are stamped with (microseconds) */
  now: () => number;
}

/** extension_registered for a contact added, extension_unregistered (with why) for one gone. */
function eventsOf(writes: readonly LocationWrite[], now: number): Map<string, EventDraft[]> {
  const out = new Map<string, EventDraft[]>();
  const tmCreate = formatMicros(now);
  const add = (customerId: string, extensionId: string, type: string, b: Binding, reason?: string) => {
    if (customerId === "") return;
    const data = { ...contactView(b, now), extension_id: extensionId, ...(reason ? { reason } : {}) };
    const list = out.get(customerId) ?? [];
    list.push({ type, data, tmCreate });
    out.set(customerId, list);
  };
  for (const w of writes) {
    if (w.op === "upsert") {
      if (w.added) add(w.customerId, w.extensionId, "extension_registered", w.binding);
    } else if (w.op === "delete")
      add(w.customerId, w.extensionId, "extension_unregistered", w.binding, w.reason);
    else for (const b of w.removed) add(w.customerId, w.extensionId, "extension_unregistered", b, w.reason);
  }
  return out;
}

/** Entries in the order of their keys: every node locks rows in this one order (no deadlock). */
const byKey = ([x]: [string, unknown], [y]: [string, unknown]) => (x < y ? -1 : x > y ? 1 : 0);

export function sqlLocationStore(
  db: Kysely<Database>,
  o: LocationEvents = { events: false, now: () => Date.now() * 1000 },
): LocationStore {
  const appendEvents = eventAppender(db);
  // Upserts go out as multi-row statements (src/store/compiled-rows.ts), so that a batch of
  // registrations costs a few statements instead of one each.
  const upserts = compiledRows<BindingRow>(COLUMNS, (rows) =>
    db
      .insertInto("bindings")
      .values(rows)
      .onConflict((oc) =>
        oc
          .columns(["extension_id", "contact"])
          .doUpdateSet((eb) => Object.fromEntries(REFRESHED.map((c) => [c, eb.ref(`excluded.${c}`)]))),
      ),
  );

  /** Statements for a run of upserts: the last write of a key wins (PostgreSQL refuses a
   * statement that touches one row twice). */
  function upsertStatements(run: BindingRow[]): CompiledQuery[] {
    const last = new Map<string, BindingRow>();
    for (const r of run) {
      const key = `${r.extension_id}\u0000${r.contact}`;
      const earlier = last.get(key);
      last.delete(key);
      // As if written one by one: the first write of the key set tm_create, later ones keep it.
      last.set(key, earlier ? { ...r, tm_create: earlier.tm_create } : r);
    }
    // One lock order for every node (by key), or two batches touching the same rows deadlock.
    return upserts([...last.entries()].sort(byKey).map(([, r]) => r));
  }

  function statements(writes: LocationWrite[]): CompiledQuery[] {
    const out: CompiledQuery[] = [];
    let run: BindingRow[] = [];
    const endRun = () => {
      if (run.length > 0) out.push(...upsertStatements(run));
      run = [];
    };
    for (const w of writes) {
      if (w.op === "upsert") {
        run.push(toRow(w.extensionId, w.customerId, w.binding));
        continue;
      }
      endRun();
      const q =
        w.op === "delete"
          ? db
              .deleteFrom("bindings")
              .where("extension_id", "=", w.extensionId)
              .where("contact", "=", w.binding.contact)
          : db.deleteFrom("bindings").where("extension_id", "=", w.extensionId);
      out.push(q.compile());
    }
    endRun();
    return out;
  }

  return {
    async loadLive(now) {
      const rows = await db
        .selectFrom("bindings")
        .selectAll()
        .where("tm_expire", ">", formatMicros(now))
        // The order memory keeps them in (the last refreshed last), not the database's whim: a
        // restart lists an extension's contacts as before it (PostgreSQL returned them otherwise).
        .orderBy("tm_update")
        .orderBy("contact")
        .execute();
      return rows.map(fromRow);
    },
    async apply(writes) {
      if (writes.length === 0) return;
      const queries = statements(writes);
      const events = o.events ? eventsOf(writes, o.now()) : new Map<string, EventDraft[]>();
      await db.transaction().execute(async (tx) => {
        for (const q of queries) await tx.executeQuery(q);
        // A contact added or gone is told in the same transaction (CONTRACT §11): after a crash
        // a binding and its event are both there or both not.
        // Customers' event counters in one order for every node too (they are row locks held
        // to the commit): two batches naming two customers in opposite orders would deadlock.
        const byCustomer = [...events].sort(byKey);
        for (const [customerId, drafts] of byCustomer) await appendEvents(tx, customerId, drafts);
      });
      for (const customerId of events.keys()) o.outbox?.published(customerId);
    },
    async loadExtensions(extensionIds, now) {
      if (extensionIds.length === 0) return [];
      const rows = await db
        .selectFrom("bindings")
        .selectAll()
        .where("extension_id", "in", [...extensionIds])
        .where("tm_expire", ">", formatMicros(now))
        .execute();
      return rows.map(fromRow);
    },
    async deleteExpired(now) {
      const r = await db
        .deleteFrom("bindings")
        .where("tm_expire", "<=", formatMicros(now))
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
