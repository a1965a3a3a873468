// The location service (RFC 3261 §10.3): who is registered where. The memory index answers every
// REGISTER; the database is written behind it in small batches (every `flushMs`), so a restart
// keeps registrations without a database round trip on the hot path. Policy (how many contacts,
// which one goes) lives here, not in the store.
import type { BindingRow, BindingStore, BindingWrite } from "../../store/ports.js";
import { detach } from "../../util/strings.js";
import { type Clock, formatMicros, type Micros, parseTimestamp } from "../../util/time.js";

export interface Binding {
  contact: string;
  receivedIp: string;
  receivedPort: number;
  transport: string;
  userAgent: string;
  callId: string;
  cseq: number;
  instanceId: string;
  /** granted lifetime, seconds */
  expires: number;
  expireAt: Micros;
  createdAt: Micros;
  updatedAt: Micros;
}

/** One Contact of a REGISTER, with what the request says about where it came from. */
export interface ContactUpdate {
  contact: string;
  /** 0 removes the binding */
  expires: number;
  instanceId: string;
}

export interface RequestOrigin {
  receivedIp: string;
  receivedPort: number;
  transport: string;
  userAgent: string;
  callId: string;
  cseq: number;
}

export interface LocationOptions {
  store: BindingStore;
  clock: Clock;
  maxContacts?: number;
  flushMs?: number;
  onError?: (err: unknown) => void;
}

interface Entry {
  customerId: string;
  bindings: Binding[];
}

// Strings cut from a parsed message keep the whole message alive in V8; copy them, and share
// the few distinct values (IPs, transports, user agents) between bindings.
const pool = new Map<string, string>();
function intern(s: string): string {
  const hit = pool.get(s);
  if (hit !== undefined) return hit;
  const copy = detach(s);
  if (pool.size < 10_000) pool.set(copy, copy);
  return copy;
}

export class LocationService {
  private readonly index = new Map<string, Entry>();
  private queue: BindingWrite[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly store: BindingStore;
  private readonly clock: Clock;
  readonly maxContacts: number;
  private readonly flushMs: number;
  private readonly onError: (err: unknown) => void;

  constructor(opts: LocationOptions) {
    this.store = opts.store;
    this.clock = opts.clock;
    this.maxContacts = opts.maxContacts ?? 3;
    this.flushMs = opts.flushMs ?? 20;
    this.onError = opts.onError ?? (() => {});
  }

  /** Loads the live bindings at start-up. */
  async load(): Promise<number> {
    const rows = await this.store.loadLive(formatMicros(this.clock()));
    for (const r of rows) {
      const entry = this.entry(r.extension_id, r.customer_id);
      entry.bindings.push(fromRow(r));
    }
    return rows.length;
  }

  /** Live bindings of an extension (expired ones are left out). */
  lookup(extensionId: string): Binding[] {
    const entry = this.index.get(extensionId);
    if (!entry) return [];
    const now = this.clock();
    return entry.bindings.filter((b) => b.expireAt > now);
  }

  /** How many live bindings there are in all (for metrics and tests). */
  size(): number {
    let n = 0;
    for (const e of this.index.values()) n += e.bindings.length;
    return n;
  }

  /**
   * Applies a REGISTER's contacts (RFC 3261 §10.3 steps 6-8) and returns the bindings after it.
   * A binding with the same Call-ID and a CSeq not higher than stored is left as it is (step 7).
   * A contact with the same +sip.instance as a binding replaces it (RFC 5626 §6). Beyond
   * `maxContacts`, the least recently refreshed binding goes.
   */
  register(
    extensionId: string,
    customerId: string,
    updates: ContactUpdate[],
    origin: RequestOrigin,
  ): Binding[] {
    const now = this.clock();
    const entry = this.entry(extensionId, customerId);
    let list = entry.bindings.filter((b) => b.expireAt > now);
    const touched = new Set<Binding>();
    for (const u of updates) {
      const existing = list.find(
        (b) => b.contact === u.contact || (u.instanceId !== "" && b.instanceId === u.instanceId),
      );
      if (existing && existing.callId === origin.callId && origin.cseq <= existing.cseq) continue;
      if (u.expires === 0) {
        if (existing) {
          list = list.filter((b) => b !== existing);
          this.write({ op: "delete", extensionId, contact: existing.contact });
        }
        continue;
      }
      if (existing && existing.contact !== u.contact) {
        // Same device instance, new contact address: the old binding is replaced.
        list = list.filter((b) => b !== existing);
        this.write({ op: "delete", extensionId, contact: existing.contact });
      }
      const binding: Binding = {
        contact: detach(u.contact),
        receivedIp: intern(origin.receivedIp),
        receivedPort: origin.receivedPort,
        transport: intern(origin.transport),
        userAgent: intern(origin.userAgent),
        callId: detach(origin.callId),
        cseq: origin.cseq,
        instanceId: u.instanceId === "" ? "" : detach(u.instanceId),
        expires: u.expires,
        expireAt: now + u.expires * 1_000_000,
        createdAt: existing && existing.contact === u.contact ? existing.createdAt : now,
        updatedAt: now,
      };
      list = list.filter((b) => b !== existing);
      list.push(binding);
      touched.add(binding);
      this.write({ op: "upsert", row: toRow(extensionId, customerId, binding) });
    }
    while (list.length > this.maxContacts) {
      const victims = list.filter((b) => !touched.has(b));
      const pool = victims.length > 0 ? victims : list;
      const oldest = pool.reduce((a, b) => (b.updatedAt < a.updatedAt ? b : a));
      list = list.filter((b) => b !== oldest);
      this.write({ op: "delete", extensionId, contact: oldest.contact });
    }
    this.set(extensionId, entry, list);
    return list;
  }

  /** `Contact: *` with `Expires: 0`: every binding goes, but for those step 7 protects. */
  removeAllFromRequest(extensionId: string, origin: RequestOrigin): Binding[] {
    const entry = this.index.get(extensionId);
    if (!entry) return [];
    const keep = entry.bindings.filter((b) => b.callId === origin.callId && origin.cseq <= b.cseq);
    for (const b of entry.bindings) {
      if (!keep.includes(b)) this.write({ op: "delete", extensionId, contact: b.contact });
    }
    this.set(extensionId, entry, keep);
    return this.lookup(extensionId);
  }

  /** Ends every registration of an extension at once (deleted extension, forced unregister). */
  removeAll(extensionId: string): number {
    const entry = this.index.get(extensionId);
    const n = entry?.bindings.length ?? 0;
    this.index.delete(extensionId);
    this.write({ op: "delete-all", extensionId });
    return n;
  }

  /** Drops expired bindings from memory and from the database. */
  async sweep(): Promise<number> {
    const now = this.clock();
    let n = 0;
    for (const [id, entry] of this.index) {
      const live = entry.bindings.filter((b) => b.expireAt > now);
      if (live.length === entry.bindings.length) continue;
      n += entry.bindings.length - live.length;
      this.set(id, entry, live);
    }
    await this.flush();
    await this.store.deleteExpired(formatMicros(now));
    return n;
  }

  /** Writes everything queued so far. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue;
    this.queue = [];
    // Batches go one after another, so writes reach the database in the order they were made.
    this.flushing = this.flushing.then(() => this.store.apply(batch)).catch(this.onError);
    return this.flushing;
  }

  private write(w: BindingWrite): void {
    this.queue.push(w);
    if (this.queue.length >= 500) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  private entry(extensionId: string, customerId: string): Entry {
    let e = this.index.get(extensionId);
    if (!e) {
      e = { customerId, bindings: [] };
      this.index.set(extensionId, e);
    }
    return e;
  }

  private set(extensionId: string, entry: Entry, list: Binding[]): void {
    if (list.length === 0) this.index.delete(extensionId);
    // An array grown by push() or filter() keeps room for ~16 more elements (128 bytes): the
    // index keeps an exact-size copy, which halves the memory of a one-contact registration.
    else entry.bindings = list.slice();
  }
}

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
  };
}

function fromRow(r: BindingRow): Binding {
  return {
    contact: r.contact,
    receivedIp: intern(r.received_ip),
    receivedPort: Number(r.received_port),
    transport: intern(r.transport),
    userAgent: intern(r.user_agent),
    callId: r.call_id,
    cseq: Number(r.cseq),
    instanceId: r.instance_id,
    expires: Number(r.expires),
    expireAt: parseTimestamp(r.tm_expire) ?? 0,
    createdAt: parseTimestamp(r.tm_create) ?? 0,
    updatedAt: parseTimestamp(r.tm_update) ?? 0,
  };
}
