// The webhook delivery worker, one per node (CONTRACT §11, §15). For each customer with a webhook
// and a secret it delivers the events after the customer's cursor in seq order, one at a time:
// event N+1 is never sent before N was delivered (2xx) or given up on. A failed attempt is retried
// after 1 s, 2 s, 4 s … (at most 10 min apart) until 24 h after the first attempt; the attempt
// that fails after that is logged `given_up` and the cursor moves on, so a dead event does not
// block the others for ever. Every attempt is a row of webhook_deliveries.
//
// Several nodes: a node delivers a customer's events only while it holds the lease on the
// customer's row (taken by a conditional UPDATE, renewed every 10 s, 30 s long), and moves the
// cursor only while it still holds it; a node that dies keeps the customer waiting for at most
// the lease's 30 s. It hears of this node's commits at once (the notifier) and looks for other
// nodes' every few seconds. Memory is bounded: at most MAX_ACTIVE customers at once, each with
// one page of events in hand; everything else waits in the database.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { EventNotifier, EventRow, EventStore } from "../store/events.js";
import type { WebhookStore, WebhookTarget } from "../store/webhooks.js";
import { type Clock, formatMicros, parseTimestamp } from "../util/time.js";
import { eventView } from "./events.js";
import type { Sealer } from "./secrets.js";
import { sendWebhook, webhookAgents } from "./webhooks-sender.js";

export interface WebhookTiming {
  /** a request without an answer this long failed */
  timeoutMs: number;
  /** the first retry's delay; each next one doubles, up to maxBackoffMs */
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** failures go on being retried this long after the first attempt, then are given up */
  giveUpAfterMs: number;
  leaseMs: number;
  renewMs: number;
  /** how often other nodes' events are looked for */
  pollMs: number;
}

export const WEBHOOK_TIMING: WebhookTiming = {
  timeoutMs: 10_000,
  firstBackoffMs: 1_000,
  maxBackoffMs: 10 * 60_000,
  giveUpAfterMs: 24 * 3600_000,
  leaseMs: 30_000,
  renewMs: 10_000,
  pollMs: 2_000,
};

/** Customers delivered to at once by one node, and events read at a time for each. */
const MAX_ACTIVE = 32;
const PAGE = 20;
/** The first attempt at an event comes after it was made, up to this much clock skew between nodes. */
const SKEW_US = 60_000_000;

/** The delay after the `failures`-th failed attempt: 1 s, 2 s, 4 s … capped. */
export function backoffMs(failures: number, t: Pick<WebhookTiming, "firstBackoffMs" | "maxBackoffMs">) {
  return Math.min(t.firstBackoffMs * 2 ** Math.min(Math.max(failures - 1, 0), 30), t.maxBackoffMs);
}

export interface WorkerLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WebhookWorkerDeps {
  store: WebhookStore;
  events: EventStore;
  notifier: EventNotifier;
  sealer: Sealer;
  clock: Clock;
  log: WorkerLog;
  allowPrivate: boolean;
  timing?: Partial<WebhookTiming>;
  /** told of each attempt's outcome (CONTRACT §12: sipext_webhook_deliveries_total{result}) */
  onAttempt?: (status: "delivered" | "failed" | "given_up") => void;
}

/** One customer being delivered to. */
interface Run {
  /** news arrived while it ran: look again before letting go */
  again: boolean;
  /** the webhook changed: the next back-off wait ends at once */
  woken: boolean;
  /** ends the back-off wait under way early */
  wake: () => void;
}

type Outcome = "advanced" | "stop";

export function webhookWorker(deps: WebhookWorkerDeps) {
  const { store, events, notifier, sealer, clock, log, allowPrivate } = deps;
  const timing = { ...WEBHOOK_TIMING, ...deps.timing };
  const nodeId = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const agents = webhookAgents();
  const abort = new AbortController();
  const active = new Map<string, Run>();
  const running = new Set<Promise<void>>();
  /** customers this node's commits told of, not yet looked at */
  const told = new Set<string>();
  let stopped = false;
  let poller: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let telling: NodeJS.Timeout | undefined;

  const now = () => formatMicros(clock());
  const openSecret = (sealed: string) => {
    try {
      return sealer.open(sealed);
    } catch {
      return undefined;
    }
  };
  const leaseEnd = () => formatMicros(clock() + timing.leaseMs * 1000);

  function start(customerId: string): void {
    if (stopped || active.has(customerId) || active.size >= MAX_ACTIVE) return;
    const run: Run = { again: false, woken: false, wake: () => {} };
    active.set(customerId, run);
    const done = deliverCustomer(customerId, run)
      .catch((err: unknown) => log.warn({ err, customerId }, "webhook delivery stopped by an error"))
      .finally(() => {
        active.delete(customerId);
        running.delete(done);
        if (run.again) start(customerId);
      });
    running.add(done);
  }

  /** This node committed events of `customerId`: deliver them now if it has a webhook. */
  function heard(customerId: string): void {
    const run = active.get(customerId);
    if (run) {
      run.again = true;
      return;
    }
    told.add(customerId);
    // A burst of commits is looked at once, a few milliseconds later, in one query per 500.
    telling ??= setTimeout(() => {
      telling = undefined;
      const ids = [...told];
      told.clear();
      for (let i = 0; i < ids.length; i += 500) {
        store
          .withWebhook(ids.slice(i, i + 500))
          .then((withHook) => withHook.forEach(start))
          .catch((err: unknown) => log.warn({ err }, "webhook wake-up failed"));
      }
    }, 10);
  }

  async function poll(): Promise<void> {
    if (stopped || active.size >= MAX_ACTIVE) return;
    try {
      // Twice the slots: the customers this node delivers to already are among those due.
      for (const id of await store.due(nodeId, now(), 2 * MAX_ACTIVE)) start(id);
    } catch (err) {
      log.warn({ err }, "webhook poll failed");
    }
  }

  async function deliverCustomer(customerId: string, run: Run): Promise<void> {
    if (!(await store.acquire(customerId, nodeId, now(), leaseEnd()))) return;
    let renewedAt = Date.now();
    /** renews the lease when due; false when it was lost */
    const keepLease = async () => {
      if (Date.now() - renewedAt < timing.renewMs) return true;
      renewedAt = Date.now();
      return store.renew(customerId, nodeId, leaseEnd());
    };
    // Attempts are stamped in increasing order per customer: the log pages by tm_create.
    let stamp = parseTimestamp((await store.latestDeliveryTm(customerId)) ?? "") ?? 0;
    const nextStamp = (t: number) => (stamp = Math.max(t, stamp + 1));
    let first = true;

    /** Tries one event until it is delivered or given up on (or the lease, or the worker, ends). */
    const deliverEvent = async (ev: EventRow): Promise<Outcome> => {
      // Only the head event at the lease's start can have been tried before (by any node).
      const before = first
        ? await store.attempts(customerId, ev.id, formatMicros((parseTimestamp(ev.tm_create) ?? 0) - SKEW_US))
        : { count: 0 };
      first = false;
      let firstAt = before.first === undefined ? undefined : parseTimestamp(before.first);
      let failures = before.count;
      const body = JSON.stringify(eventView(ev));
      for (;;) {
        if (stopped || !(await keepLease())) return "stop";
        const target = await store.target(customerId);
        if (!target || !usable(target) || target.cursor >= Number(ev.seq)) return "stop";
        const secret = openSecret(target.secretEnc as string);
        const result =
          secret === undefined
            ? {
                ok: false,
                httpStatus: 0,
                error: "the webhook secret cannot be opened (another encryption key?)",
              }
            : await sendWebhook(
                {
                  uri: target.uri,
                  method: target.method === "PUT" ? "PUT" : "POST",
                  eventId: ev.id,
                  body,
                  secret,
                  timeoutMs: timing.timeoutMs,
                  allowPrivate,
                  signal: abort.signal,
                },
                agents,
              );
        if (stopped) return "stop"; // cut short: neither delivered nor failed; tried again later
        const t = clock();
        firstAt ??= t;
        const givenUp = !result.ok && t - firstAt >= timing.giveUpAfterMs * 1000;
        const status = result.ok ? "delivered" : givenUp ? "given_up" : "failed";
        await store.insertDelivery({
          id: randomUUID(),
          customer_id: customerId,
          event_id: ev.id,
          event_seq: Number(ev.seq),
          type: ev.type,
          status,
          http_status: result.httpStatus,
          error: result.error,
          tm_create: formatMicros(nextStamp(t)),
        });
        deps.onAttempt?.(status);
        const about = {
          customerId,
          eventId: ev.id,
          seq: Number(ev.seq),
          status,
          httpStatus: result.httpStatus,
        };
        if (result.ok || givenUp) {
          if (givenUp) log.warn({ ...about, error: result.error, failures }, "webhook event given up");
          else log.debug(about, "webhook event delivered");
          return (await store.advance(customerId, nodeId, Number(ev.seq))) ? "advanced" : "stop";
        }
        failures++;
        const left = firstAt + timing.giveUpAfterMs * 1000 - t;
        const delay = Math.min(backoffMs(failures, timing), Math.max(0, Math.ceil(left / 1000)));
        log.info({ ...about, error: result.error, retryInMs: delay }, "webhook attempt failed");
        if (!(await wait(delay, run, keepLease))) return "stop";
      }
    };

    try {
      for (;;) {
        run.again = false;
        const target = await store.target(customerId);
        if (!target || !usable(target)) return;
        const page = await events.listAfter(customerId, { after: target.cursor, limit: PAGE, types: [] });
        if (page.length === 0) {
          if (run.again) continue;
          return;
        }
        for (const ev of page) if ((await deliverEvent(ev)) === "stop") return;
      }
    } finally {
      if (!stopped) await store.release(customerId, nodeId).catch(() => {});
    }
  }

  /** Waits `ms`, renewing the lease; false when the lease was lost or the worker stops. */
  async function wait(ms: number, run: Run, keepLease: () => Promise<boolean>): Promise<boolean> {
    const until = Date.now() + ms;
    while (!stopped && !run.woken && Date.now() < until) {
      const slice = Math.min(until - Date.now(), timing.renewMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, slice);
        run.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      run.wake = () => {};
      if (!(await keepLease())) return false;
    }
    run.woken = false;
    return !stopped;
  }

  return {
    nodeId,
    start(): void {
      unsubscribe = notifier.subscribeAll(heard);
      poller = setInterval(() => void poll(), timing.pollMs);
      poller.unref();
      void poll();
    },
    /** The customer's webhook changed on this node: retry now rather than after the back-off. */
    changed(customerId: string): void {
      const run = active.get(customerId);
      if (run) {
        run.again = true;
        run.woken = true;
        run.wake();
      } else heard(customerId);
    },
    /** Stops delivering: requests in flight are cut (they will be sent again), leases let go. */
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      unsubscribe?.();
      clearInterval(poller);
      clearTimeout(telling);
      abort.abort();
      for (const run of active.values()) run.wake();
      const customers = [...active.keys()];
      await Promise.allSettled([...running]);
      await Promise.allSettled(customers.map((id) => store.release(id, nodeId)));
      agents.destroy();
    },
  };
}

const usable = (t: WebhookTarget) => t.uri !== "" && t.secretEnc !== null;

export type WebhookWorker = ReturnType<typeof webhookWorker>;
