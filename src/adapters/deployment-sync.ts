// Keeping the nodes of one deployment in step (CONTRACT §15) over the deployment bus: each node
// answers REGISTERs from its memory and writes behind; once a batch is in the database it says
// which extensions changed, and the others read those bindings back (they then route calls to
// them and list them). Removals of another node's bindings (force-unregister, a deleted
// extension, a replaced contact), bans, failed digest answers and logins, and accepted
// nonce-counts travel the same way.
import type { LoginThrottle } from "../api/login-throttle.js";
import type { LimitedBy, RateLimiter } from "../api/rate-limit.js";
import type { DeploymentBus } from "../deployment-bus.js";
import type { NonceService } from "../sip/auth/nonce.js";
import type { SourceBans } from "../sip/guard/bans.js";
import type { LocationService } from "../sip/registrar/location.js";
import type { LocationStore, LocationWrite } from "../sip/registrar/location-store.js";
import type { ChangeFeed } from "../store/change-feed.js";

/** Accepted nonce-counts and failed answers are sent in batches at most this often. */
const BATCH_MS = 20;
/** At most this many items per message (the bus's payload limit: a nonce-count is about 60 bytes). */
const PER_MESSAGE = 60;

export function syncLocation(
  bus: DeploymentBus,
  location: LocationService,
  store: LocationStore,
  onError: (err: unknown) => void,
): void {
  location.onFlushed = (writes: readonly LocationWrite[]) => {
    const changed = new Map<string, string>();
    for (const w of writes) {
      changed.set(w.extensionId, w.customerId);
      // Another node's binding removed here: that node must forget it too.
      if (w.op === "delete" && !location.own(w.binding))
        bus.publish("loc-rm", JSON.stringify([w.extensionId, w.binding.contact]));
      if (w.op === "delete-all") bus.publish("loc-rm", JSON.stringify([w.extensionId]));
    }
    for (let ids = [...changed]; ids.length > 0; ids = ids.slice(50))
      bus.publish("loc", JSON.stringify(ids.slice(0, 50)));
  };
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
  bus.subscribe("loc-rm", (payload) => {
    const [extensionId, contact] = JSON.parse(payload) as [string, string?];
    location.forget(extensionId, contact);
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
 * trigger of migration 009 says so on the bus), and trusted only while the bus is heard.
 */
export function syncExtensionCache(bus: DeploymentBus, feed: ChangeFeed): void {
  bus.subscribe("ext", () => feed.changed());
  bus.onLost(() => feed.lost());
  feed.listening();
}
