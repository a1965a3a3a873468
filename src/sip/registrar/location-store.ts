// Where the location service keeps its bindings beyond memory (Routr's habit: a small store
// interface speaking the protocol's own types, policy in the service). The SQL implementation is
// an adapter outside the SIP core (src/adapters/sql-location-store.ts); the memory one below
// serves unit tests and deployments that need no persistence.
import type { Micros } from "../../util/time.js";
import type { TransportName } from "../transport/flow.js";

/** Where a REGISTER really came from (RFC 3581), and what it said of itself. */
export interface BindingSource {
  receivedIp: string;
  receivedPort: number;
  transport: TransportName;
  userAgent: string;
  callId: string;
  cseq: number;
}

/** One registered contact of an extension (RFC 3261 §10.3), as the registrar stored it. */
export interface Binding extends BindingSource {
  contact: string;
  /** the contact's `+sip.instance` (RFC 5626 §4.1), "" when none */
  instanceId: string;
  /** the contact's `reg-id` (RFC 5626 §4.2): with the instance, names one flow of a device */
  regId: number | undefined;
  /** the contact's `q` (RFC 3261 §10.2.1.2), 0-1; undefined when it had none (counts as 1) */
  q: number | undefined;
  /** the Path the REGISTER came through (RFC 3327): requests to the binding follow it */
  path: readonly string[];
  /**
   * The node that holds it (CONTRACT §15): the one the phone registered through, and where that
   * node is reached (host:port). "" for a deployment of one node.
   */
  node: string;
  nodeAddress: string;
  /** granted lifetime, seconds */
  expires: number;
  expireAt: Micros;
  createdAt: Micros;
  updatedAt: Micros;
}

/** A binding and whose it is. */
export interface StoredBinding {
  extensionId: string;
  customerId: string;
  binding: Binding;
}

/** Why a binding went (CONTRACT §11's extension_unregistered reasons). */
export type RemovalReason = "device" | "expired" | "api" | "replaced" | "extension_deleted";

/**
 * One write of the location service, applied in order. `added` and the removals' reasons let
 * the store tell of them (a contact added or gone) in the same transaction.
 */
export type LocationWrite =
  | { op: "upsert"; extensionId: string; customerId: string; binding: Binding; added: boolean }
  | { op: "delete"; extensionId: string; customerId: string; binding: Binding; reason: RemovalReason }
  | { op: "delete-all"; extensionId: string; customerId: string; removed: Binding[]; reason: RemovalReason };

export interface LocationStore {
  /** Every binding that expires after `now` (at start-up). */
  loadLive(now: Micros): Promise<StoredBinding[]>;
  /** Applies writes in one transaction, in order. */
  apply(writes: LocationWrite[]): Promise<void>;
  /** Deletes bindings that expired before `now`; returns how many. */
  deleteExpired(now: Micros): Promise<number>;
  /** The live bindings of these extensions (another node changed them). */
  loadExtensions?(extensionIds: readonly string[], now: Micros): Promise<StoredBinding[]>;
}

/** A LocationStore in this process's memory: what it was given, for as long as it lives. */
export function memoryLocationStore(): LocationStore & { size(): number } {
  const rows = new Map<string, StoredBinding>();
  const key = (extensionId: string, contact: string) => `${extensionId}\n${contact}`;
  return {
    async loadLive(now) {
      return [...rows.values()].filter((r) => r.binding.expireAt > now);
    },
    async apply(writes) {
      for (const w of writes) {
        if (w.op === "upsert") {
          const old = rows.get(key(w.extensionId, w.binding.contact));
          // A refresh keeps the binding's first tm_create, as the SQL store does.
          const createdAt = old?.binding.createdAt ?? w.binding.createdAt;
          rows.set(key(w.extensionId, w.binding.contact), {
            extensionId: w.extensionId,
            customerId: w.customerId,
            binding: { ...w.binding, createdAt },
          });
        } else if (w.op === "delete") rows.delete(key(w.extensionId, w.binding.contact));
        else for (const [k, r] of rows) if (r.extensionId === w.extensionId) rows.delete(k);
      }
    },
    async deleteExpired(now) {
      let n = 0;
      for (const [k, r] of rows) {
        if (r.binding.expireAt <= now) {
          rows.delete(k);
          n++;
        }
      }
      return n;
    },
    async loadExtensions(extensionIds, now) {
      const ids = new Set(extensionIds);
      return [...rows.values()].filter((r) => ids.has(r.extensionId) && r.binding.expireAt > now);
    },
    size: () => rows.size,
  };
}
