// The location service (RFC 3261 §10.3): who is registered where. The memory index answers every
// REGISTER; the database is written behind it in small batches (every `flushMs`), so a restart
// keeps registrations without a database round trip on the hot path. Policy (how many contacts,
// which one goes) lives here, not in the store.

import type { Clock } from "../../util/time.js";
import { detach } from "../message/detach.js";
import type { TransportName } from "../transport/flow.js";
import type {
  Binding,
  BindingSource,
  LocationStore,
  LocationWrite,
  StoredBinding,
} from "./location-store.js";

export type { Binding } from "./location-store.js";

/** One Contact of a REGISTER, with what the request says about where it came from. */
export interface ContactUpdate {
  contact: string;
  /** 0 removes the binding */
  expires: number;
  instanceId: string;
  regId?: number | undefined;
  q?: number | undefined;
}

const NO_PATH: readonly string[] = Object.freeze([]);

/** RFC 3261 §10.2.1.2: "a q value ... of 1.0" is what a contact without one counts as. */
export const qOf = (b: Pick<Binding, "q">): number => b.q ?? 1;

/** Descending q, in the order they were kept otherwise (Array.prototype.sort is stable). */
const byQ = (list: Binding[]) =>
  list.some((b) => b.q !== undefined) ? list.sort((a, b) => qOf(b) - qOf(a)) : list;

/** A REGISTER's origin (RFC 3581), and the Path it came through (RFC 3327), [] when none. */
export interface RequestOrigin extends BindingSource {
  path?: readonly string[];
}

export interface LocationOptions {
  store: LocationStore;
  clock: Clock;
  /** this node, and where other nodes reach it (CONTRACT §15); "" alone */
  node?: { id: string; address: string };
  /** told of each batch once the store has it (other nodes are told from there) */
  onFlushed?: (writes: readonly LocationWrite[]) => void;
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

/** A binding read or heard from elsewhere, its common strings shared with the others'. */
const interned = (b: Binding): Binding => ({
  ...b,
  receivedIp: intern(b.receivedIp),
  transport: intern(b.transport) as TransportName,
  userAgent: intern(b.userAgent),
  node: intern(b.node),
  nodeAddress: intern(b.nodeAddress),
});

export class LocationService {
  private readonly index = new Map<string, Entry>();
  private queue: LocationWrite[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly store: LocationStore;
  private readonly clock: Clock;
  readonly maxContacts: number;
  private readonly flushMs: number;
  private readonly onError: (err: unknown) => void;
  /** this node (set when the deployment's bus is up; its address when SIP listens) */
  node: { id: string; address: string };
  /** told of each batch once the store has it (other nodes are told from there) */
  onFlushed: ((writes: readonly LocationWrite[]) => void) | undefined;

  constructor(opts: LocationOptions) {
    this.node = opts.node ?? { id: "", address: "" };
    this.onFlushed = opts.onFlushed;
    this.store = opts.store;
    this.clock = opts.clock;
    this.maxContacts = opts.maxContacts ?? 3;
    this.flushMs = opts.flushMs ?? 20;
    this.onError = opts.onError ?? (() => {});
  }

  /** Loads the live bindings at start-up. */
  async load(): Promise<number> {
    const stored = await this.store.loadLive(this.clock());
    for (const { extensionId, customerId, binding: b } of stored) {
      this.entry(extensionId, customerId).bindings.push(interned(b));
    }
    return stored.length;
  }

  /** Live bindings of an extension (expired ones are left out), by descending q (§10.2.1.2). */
  lookup(extensionId: string): Binding[] {
    const entry = this.index.get(extensionId);
    if (!entry) return [];
    const now = this.clock();
    return byQ(entry.bindings.filter((b) => b.expireAt > now));
  }

  /**
   * §10.3 steps 6-7: "if the Call-ID value in the existing binding is the same as the Call-ID
   * value in the request, the binding MUST only be removed [or updated] if the CSeq in the request
   * is higher than the value stored for that binding. Otherwise, the update MUST be aborted and
   * the request fails." True when a binding the request touches has its Call-ID and a higher
   * CSeq (CONTRACT §7: an equal CSeq on a new transaction leaves the binding as it is).
   */
  cseqIsLower(extensionId: string, updates: ContactUpdate[] | "*", origin: RequestOrigin): boolean {
    const live = this.lookup(extensionId);
    const touched =
      updates === "*" ? live : updates.map((u) => this.match(live, u)).filter((b) => b !== undefined);
    return touched.some((b) => b.callId === origin.callId && origin.cseq < b.cseq);
  }

  /**
   * The binding a contact updates: the same URI, or the same device flow (RFC 5626 §6: the same
   * +sip.instance and the same reg-id, or the same instance when neither has a reg-id).
   */
  private match(list: Binding[], u: ContactUpdate): Binding | undefined {
    return list.find(
      (b) =>
        b.contact === u.contact ||
        (u.instanceId !== "" && b.instanceId === u.instanceId && b.regId === u.regId),
    );
  }

  /** How many live bindings there are in all (for metrics and tests). */
  size(): number {
    let n = 0;
    for (const e of this.index.values()) n += e.bindings.length;
    return n;
  }

  /**
   * Applies a REGISTER's contacts (RFC 3261 §10.3 steps 6-8) and returns the bindings after it.
   * A binding with the same Call-ID and a CSeq not higher than stored is left as it is (step 7;
   * the registrar refuses a lower one first, cseqIsLower). A contact of the same device flow
   * replaces its binding (RFC 5626 §6). Beyond
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
      const existing = this.match(list, u);
      if (existing && existing.callId === origin.callId && origin.cseq <= existing.cseq) continue;
      if (u.expires === 0) {
        if (existing) {
          list = list.filter((b) => b !== existing);
          this.write({ op: "delete", extensionId, customerId, binding: existing, reason: "device" });
        }
        continue;
      }
      if (existing && existing.contact !== u.contact) {
        // Same device instance, new contact address: the old binding is replaced.
        list = list.filter((b) => b !== existing);
        this.write({ op: "delete", extensionId, customerId, binding: existing, reason: "replaced" });
      }
      const binding: Binding = {
        contact: detach(u.contact),
        receivedIp: intern(origin.receivedIp),
        receivedPort: origin.receivedPort,
        transport: intern(origin.transport) as TransportName,
        userAgent: intern(origin.userAgent),
        callId: detach(origin.callId),
        cseq: origin.cseq,
        instanceId: u.instanceId === "" ? "" : detach(u.instanceId),
        regId: u.regId,
        q: u.q,
        path: origin.path && origin.path.length > 0 ? origin.path.map(detach) : NO_PATH,
        node: this.node.id,
        nodeAddress: this.node.address,
        expires: u.expires,
        expireAt: now + u.expires * 1_000_000,
        createdAt: existing && existing.contact === u.contact ? existing.createdAt : now,
        updatedAt: now,
      };
      list = list.filter((b) => b !== existing);
      list.push(binding);
      touched.add(binding);
      this.write({
        op: "upsert",
        extensionId,
        customerId,
        binding,
        added: !existing || existing.contact !== u.contact,
      });
    }
    while (list.length > this.maxContacts) {
      const victims = list.filter((b) => !touched.has(b));
      const pool = victims.length > 0 ? victims : list;
      const oldest = pool.reduce((a, b) => (b.updatedAt < a.updatedAt ? b : a));
      list = list.filter((b) => b !== oldest);
      this.write({ op: "delete", extensionId, customerId, binding: oldest, reason: "replaced" });
    }
    this.set(extensionId, entry, list);
    return byQ(list);
  }

  /** `Contact: *` with `Expires: 0`: every binding goes, but for those step 7 protects. */
  removeAllFromRequest(extensionId: string, origin: RequestOrigin): Binding[] {
    const entry = this.index.get(extensionId);
    if (!entry) return [];
    const keep = entry.bindings.filter((b) => b.callId === origin.callId && origin.cseq <= b.cseq);
    const { customerId } = entry;
    for (const b of entry.bindings) {
      if (!keep.includes(b))
        this.write({ op: "delete", extensionId, customerId, binding: b, reason: "device" });
    }
    this.set(extensionId, entry, keep);
    return this.lookup(extensionId);
  }

  /** Ends every registration of an extension at once (deleted extension, forced unregister). */
  removeAll(extensionId: string, reason: "api" | "extension_deleted" = "api"): number {
    const entry = this.index.get(extensionId);
    const now = this.clock();
    const removed = entry?.bindings.filter((b) => b.expireAt > now) ?? [];
    this.index.delete(extensionId);
    this.write({ op: "delete-all", extensionId, customerId: entry?.customerId ?? "", removed, reason });
    return removed.length;
  }

  /** Drops expired bindings from memory and from the database. */
  async sweep(): Promise<number> {
    const now = this.clock();
    let n = 0;
    for (const [id, entry] of this.index) {
      const live = entry.bindings.filter((b) => b.expireAt > now);
      if (live.length === entry.bindings.length) continue;
      n += entry.bindings.length - live.length;
      for (const b of entry.bindings) {
        // Each node sweeps (and tells of) its own; the others' go from memory only.
        if (b.expireAt <= now && this.own(b))
          this.write({
            op: "delete",
            extensionId: id,
            customerId: entry.customerId,
            binding: b,
            reason: "expired",
          });
      }
      this.set(id, entry, live);
    }
    await this.flush();
    await this.store.deleteExpired(now);
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
    this.flushing = this.flushing
      .then(() => this.store.apply(batch))
      .then(() => {
        if (batch.length > 0) this.onFlushed?.(batch);
      })
      .catch(this.onError);
    return this.flushing;
  }

  /** Is `b` this node's (the others' are kept up to date from the database)? */
  own(b: Binding): boolean {
    return b.node === this.node.id;
  }

  /**
   * Another node changed these bindings (CONTRACT §15): the others' bindings of the extension
   * become what the store says; this node's own stay (a write of its own may still be queued),
   * but for those the store now says another node holds (the phone registered there since).
   */
  replaceForeign(extensionId: string, customerId: string, stored: readonly Binding[]): void {
    const elsewhere = new Set(stored.filter((b) => !this.own(b)).map((b) => b.contact));
    const entry = this.entry(extensionId, customerId);
    const mine = entry.bindings.filter((b) => this.own(b) && !elsewhere.has(b.contact));
    this.set(extensionId, entry, byQ([...mine, ...stored.filter((b) => !this.own(b)).map(interned)]));
  }

  /**
   * Another node set this binding (CONTRACT §15): it takes the place of the one with its contact,
   * unless that one is this node's and newer (the phone registered here since; the others hear).
   */
  setForeign(extensionId: string, customerId: string, b: Binding): void {
    const entry = this.entry(extensionId, customerId);
    const same = entry.bindings.find((x) => x.contact === b.contact);
    if (same && this.own(same) && same.updatedAt > b.updatedAt) return;
    const list = entry.bindings.filter((x) => x !== same);
    list.push(interned(b));
    this.set(extensionId, entry, byQ(list));
  }

  /**
   * The bus was not heard for a while (CONTRACT §15): the other nodes' bindings of every
   * extension become what the store says (`stored`: every live binding); this node's own stay.
   */
  resyncForeign(stored: readonly StoredBinding[]): void {
    const byExtension = new Map<string, { customerId: string; bindings: Binding[] }>();
    for (const s of stored) {
      const e = byExtension.get(s.extensionId) ?? { customerId: s.customerId, bindings: [] };
      e.bindings.push(s.binding);
      byExtension.set(s.extensionId, e);
    }
    for (const [id, entry] of [...this.index]) {
      if (!byExtension.has(id)) this.replaceForeign(id, entry.customerId, []);
    }
    for (const [id, e] of byExtension) this.replaceForeign(id, e.customerId, e.bindings);
  }

  /** Another node removed a binding (or all of an extension's) and wrote it: memory follows. */
  forget(extensionId: string, contact?: string): void {
    const entry = this.index.get(extensionId);
    if (!entry) return;
    this.set(
      extensionId,
      entry,
      contact === undefined ? [] : entry.bindings.filter((b) => b.contact !== contact),
    );
  }

  private write(w: LocationWrite): void {
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
