// Keeping the nodes of one deployment in step (CONTRACT §15) over the deployment bus: each node
// answers REGISTERs from its memory and writes behind; once a batch is in the database it sends
// the batch's changes of bindings to the others (they then route calls to them and list them).
// Bans, failed digest answers and logins, and accepted nonce-counts travel the same way.
import type { LoginThrottle } from "../api/login-throttle.js";
import type { LimitedBy, RateLimiter } from "../api/rate-limit.js";
import type { DeploymentBus } from "../deployment-bus.js";
import type { NonceService } from "../sip/auth/nonce.js";
import type { SourceBans } from "../sip/guard/bans.js";
import type { LocationService } from "../sip/registrar/location.js";
import type { Binding, LocationStore, LocationWrite } from "../sip/registrar/location-store.js";
import type { ChangeFeed } from "../store/change-feed.js";

/** Accepted nonce-counts and failed answers are sent in batches at most this often. */
const BATCH_MS = 20;
/** At most this many items per message (the bus's payload limit: a nonce-count is about 60 bytes). */
const PER_MESSAGE = 60;

/** A binding as it travels on the bus: its fields in a fixed order (a third of the JSON of the object). */
type WireBinding = [
  contact: string,
  receivedIp: string,
  receivedPort: number,
  transport: Binding["transport"],
  userAgent: string,
  callId: string,
  cseq: number,
  instanceId: string,
  regId: number | null,
  q: number | null,
  path: readonly string[],
  node: string,
  nodeAddress: string,
  expires: number,
  expireAt: number,
  createdAt: number,
  updatedAt: number,
];

const toWire = (b: Binding): WireBinding => [
  b.contact,
  b.receivedIp,
  b.receivedPort,
  b.transport,
  b.userAgent,
  b.callId,
  b.cseq,
  b.instanceId,
  b.regId ?? null,
  b.q ?? null,
  b.path,
  b.node,
  b.nodeAddress,
  b.expires,
  b.expireAt,
  b.createdAt,
  b.updatedAt,
];

const fromWire = (w: WireBinding): Binding => ({
  contact: w[0],
  receivedIp: w[1],
  receivedPort: w[2],
  transport: w[3],
  userAgent: w[4],
  callId: w[5],
  cseq: w[6],
  instanceId: w[7],
  regId: w[8] ?? undefined,
  q: w[9] ?? undefined,
  path: w[10],
  node: w[11],
  nodeAddress: w[12],
  expires: w[13],
  expireAt: w[14],
  createdAt: w[15],
  updatedAt: w[16],
});

/**
 * One change of a batch, in the batch's order: a binding set (added or refreshed), one removed,
 * or all of an extension's removed.
 */
type LocationChange =
  | ["set", extensionId: string, customerId: string, binding: WireBinding]
  | ["rm", extensionId: string, contact: string]
  | ["rm-all", extensionId: string];

/** Room for changes in one bus message: its limit, less the envelope and the escaping of quotes. */
const CHANGES_PER_MESSAGE_CHARS = 7_000;

/**
 * Bindings in step over the deployment (CONTRACT §15). Once a batch is in the database, its
 * changes go to the other nodes with the bindings themselves, in order (the bus keeps a node's
 * messages in order), so the others apply them without reading anything back. A change too long
 * for one message (a contact of kilobytes) is told as "read extension X" instead, and read from
 * the store. Expiries are not told: every node drops an expired binding by itself.
 */
export function syncLocation(
  bus: DeploymentBus,
  location: LocationService,
  store: LocationStore,
  onError: (err: unknown) => void,
): void {
  location.onFlushed = (writes: readonly LocationWrite[]) => {
    const reread = new Map<string, string>();
    let chunk: string[] = [];
    let size = 0;
    const send = () => {
      if (chunk.length > 0) bus.publish("loc-changes", `[${chunk.join(",")}]`);
      chunk = [];
      size = 0;
    };
    for (const w of writes) {
      if (w.op === "delete" && w.reason === "expired") continue;
      const change: LocationChange =
        w.op === "upsert"
          ? ["set", w.extensionId, w.customerId, toWire(w.binding)]
          : w.op === "delete"
            ? ["rm", w.extensionId, w.binding.contact]
            : ["rm-all", w.extensionId];
      const text = JSON.stringify(change);
      // Inside the bus's own JSON, every quote and backslash gains a backslash.
      const cost = JSON.stringify(text).length;
      if (cost > CHANGES_PER_MESSAGE_CHARS) {
        reread.set(w.extensionId, w.customerId);
        continue;
      }
      if (size + cost + 1 > CHANGES_PER_MESSAGE_CHARS) send();
      chunk.push(text);
      size += cost + 1;
    }
    send();
    for (let ids = [...reread]; ids.length > 0; ids = ids.slice(50))
      bus.publish("loc", JSON.stringify(ids.slice(0, 50)));
  };
  bus.subscribe("loc-changes", (payload) => {
    for (const change of JSON.parse(payload) as LocationChange[]) {
      if (change[0] === "set") location.setForeign(change[1], change[2], fromWire(change[3]));
      else location.forget(change[1], change[0] === "rm" ? change[2] : undefined);
    }
  });
  // Changes told while this node was not listening were not heard: every other node's binding
  // becomes what the store holds.
  bus.onRegained(() => {
    store
      .loadLive(Date.now() * 1000)
      .then((stored) => location.resyncForeign(stored))
      .catch(onError);
  });
  bus.subscribe("loc", (payload) => {
    const pairs = JSON.parse(payload) as Array<[string, string]>;
    const load = store.loadExtensions?.(
      pairs.map(([id]) => id),
      Date.now() * 1000,
    );
    void load
      ?.then((stored) => {
        for (const [id, customerId] of pairs) {
          location.replaceForeign(
            id,
            customerId,
            stored.filter((s) => s.extensionId === id).map((s) => s.binding),
          );
        }
      })
      .catch(onError);
  });
}

/** Items published on `topic` in batches (BATCH_MS apart, PER_MESSAGE items per message). */
function batcher<T>(bus: DeploymentBus, topic: string): (item: T) => void {
  let items: T[] = [];
  let timer: NodeJS.Timeout | undefined;
  const send = () => {
    timer = undefined;
    for (; items.length > 0; items = items.slice(PER_MESSAGE))
      bus.publish(topic, JSON.stringify(items.slice(0, PER_MESSAGE)));
  };
  return (item) => {
    items.push(item);
    if (!timer) {
      timer = setTimeout(send, BATCH_MS);
      timer.unref();
    }
  };
}

export function syncGuards(bus: DeploymentBus, nonces: NonceService, bans: SourceBans): void {
  const accepted = batcher<[string, number]>(bus, "nc");
  nonces.onAccepted = (nonce, nc) => accepted([nonce, nc]);
  bus.subscribe("nc", (payload) => {
    for (const [nonce, nc] of JSON.parse(payload) as Array<[string, number]>) nonces.remember(nonce, nc);
  });
  // Failed digest answers add up over the nodes: a guesser cannot spread its guesses to stay
  // under each node's limit. One address per failure; the receiver counts repeats.
  const failed = batcher<string>(bus, "sip-fail");
  bans.onCounted = failed;
  bus.subscribe("sip-fail", (payload) => {
    const counts = new Map<string, number>();
    for (const a of JSON.parse(payload) as string[]) counts.set(a, (counts.get(a) ?? 0) + 1);
    for (const [address, n] of counts) bans.failedElsewhere(address, n);
  });
  bans.onBan((ban) => bus.publish("ban", JSON.stringify([ban.source, ban.expiresAt])));
  bus.subscribe("ban", (payload) => {
    const [source, expiresAt] = JSON.parse(payload) as [string, number];
    bans.add(source, expiresAt);
  });
}

/** A ban lifted through the API of any node ends on every node. */
export function syncBanLifts(
  bus: DeploymentBus,
  banLifted: Array<(source: string) => void>,
  bans: SourceBans,
): void {
  banLifted.push((source) => bus.publish("unban", source));
  bus.subscribe("unban", (source) => bans.lift(source));
}

/** Failed logins anywhere in the deployment count on every node (CONTRACT §15). */
export function syncLoginThrottle(bus: DeploymentBus, throttle: LoginThrottle): void {
  throttle.onFailed.push((ip, username) => bus.publish("login-fail", JSON.stringify([ip, username])));
  bus.subscribe("login-fail", (payload) => {
    const [ip, username] = JSON.parse(payload) as [string, string];
    throttle.failedElsewhere(ip, username);
  });
}

/** Rate-limit tokens are added up over this long before they are told (one message, not one per request). */
const RATE_BATCH_MS = 100;

/**
 * API rate limits hold for the deployment (CONTRACT §17): each node tells the others, every
 * RATE_BATCH_MS, how many tokens each address and customer took from it; they drain their own
 * buckets by as much. An approximation: a node hears of the others' requests up to ~100 ms (plus
 * the bus's delay) late, so a client spreading a burst over N nodes at once may get up to N
 * bursts through before every bucket is empty; over a second or more the deployment's rate holds.
 */
export function syncRateLimits(bus: DeploymentBus, limiter: RateLimiter): void {
  let counts = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  const send = () => {
    timer = undefined;
    const items = [...counts].map(([k, n]) => [k.slice(0, 1), k.slice(2), n] as [string, string, number]);
    counts = new Map();
    for (let rest = items; rest.length > 0; rest = rest.slice(PER_MESSAGE))
      bus.publish("rate", JSON.stringify(rest.slice(0, PER_MESSAGE)));
  };
  limiter.onTaken.push((by, key) => {
    const k = `${by === "ip" ? "i" : "c"}:${key}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
    if (!timer) {
      timer = setTimeout(send, RATE_BATCH_MS);
      timer.unref();
    }
  });
  bus.subscribe("rate", (payload) => {
    for (const [k, key, n] of JSON.parse(payload) as Array<[string, string, number]>) {
      const by: LimitedBy = k === "i" ? "ip" : "customer";
      limiter.takenElsewhere(by, key, n);
    }
  });
}

/**
 * Extensions cached by this node are dropped whenever any writer commits a change to them (the
 * trigger of migration 009 says so on the bus), and trusted only while the bus is heard (once it
 * is heard again, the cache starts empty).
 */
export function syncExtensionCache(bus: DeploymentBus, feed: ChangeFeed): void {
  bus.subscribe("ext", () => feed.changed());
  bus.onLost(() => feed.lost());
  bus.onRegained(() => feed.listening());
  feed.listening();
}
