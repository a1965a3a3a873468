// Call records from what the proxy tells (src/sip/proxy/call-events.ts; CONTRACT §13): a row and
// call_started when a call is forked to an extension's devices, call_answered at the answer,
// call_ended at the end — a failure before the answer, a BYE through the proxy, or, for a call
// answered and never hung up (its BYE lost, a phone gone), MAX_ANSWERED after it started.
// Writes are batched (write-behind, like the location service's): the changes of BATCH_MS go to
// the store in one transaction, a call that starts and ends within one batch as a single row, so
// that a call costs a share of one transaction instead of three. A failed batch is logged and the
// calls go on. Answered calls are kept here by Call-ID, so a BYE through this node ends its call
// without a query; a BYE through another node finds the call in the database.
import { callView } from "../domain/calls.js";
import type { CallObserver, CallResult, CallStart } from "../sip/proxy/call-events.js";
import type { EventDraft } from "../store/events.js";
import type { CallChange, CallRow, CallStore } from "../store/sql-calls.js";
import { type Clock, formatMicros, parseTimestamp } from "../util/time.js";
import { timeOrderedUuid } from "../util/uuid.js";

/** A call answered and never hung up is ended this long after it started (README "Decisions"). */
export const MAX_ANSWERED_US = 12 * 3600 * 1_000_000;
/** Calls waiting for their answer, at most (beyond: not recorded); answered calls kept here, at
 * most (beyond: their BYE finds them in the database). */
const MAX_TRACKED = 100_000;
/**
 * How long a change waits for others to share its transaction: every commit rewrites the last
 * page of each table and index it touches, so the fewer the commits the less a call costs
 * (measured per recorded call, events on: 191 µs of CPU with 20 ms batches, 115 with 100 ms).
 * Records and their events are seen this much later.
 */
const BATCH_MS = 100;
/** A batch this large is written at once (a bounded transaction, bounded memory). */
const BATCH_MAX = 1000;

export interface CallRecording extends CallObserver {
  /** Ends answered calls older than MAX_ANSWERED_US (the sweep, every node). */
  sweep(): Promise<number>;
  /** Writes still in flight (tests and shutdown wait for them). */
  settled(): Promise<void>;
}

export function recordCalls(deps: {
  calls: CallStore;
  clock: Clock;
  /** told of each call recorded as started (metrics) */
  onStarted?: () => void;
  /** told of each call that ended, with its result (metrics) */
  onEnded?: (result: CallResult) => void;
  onError(err: unknown): void;
}): CallRecording {
  const { calls, clock } = deps;
  /** calls by their INVITE transaction's key, until their first final */
  const pending = new Map<string, CallRow>();
  /** answered calls by Call-ID, until their BYE (a forked call may have been answered twice) */
  const answered = new Map<string, CallRow[]>();
  /** the next batch: each call's latest row, by the row's id */
  let queue = new Map<string, CallChange & { events: EventDraft[] }>();
  let timer: NodeJS.Timeout | undefined;
  /** the batches being written, one after another */
  let writing = Promise.resolve();
  /** lookups of calls hung up through this node and answered through another */
  const lookups = new Set<Promise<void>>();
  const now = () => formatMicros(clock());
  const event = (type: string, row: CallRow): EventDraft => ({
    type,
    data: callView(row),
    tmCreate: now(),
  });

  async function write(): Promise<void> {
    if (queue.size === 0) return;
    const batch = [...queue.values()];
    queue = new Map();
    try {
      const done = await calls.apply(batch);
      batch.forEach((c, i) => {
        if (done[i] && c.row.status === "ended") deps.onEnded?.(c.row.result as CallResult);
      });
    } catch (err) {
      deps.onError(err);
    }
  }

  /** Writes what is queued, after the batch being written (never rejects). */
  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    writing = writing.then(write);
    return writing;
  }

  /** Queues `row` (the call as it now is) and its event; `from`: the status it leaves. */
  function change(row: CallRow, from: string | null, type: string): void {
    const queued = queue.get(row.id);
    if (queued) {
      queued.row = row;
      queued.events.push(event(type, row));
    } else {
      queue.set(row.id, { row, from, events: [event(type, row)] });
    }
    if (queue.size >= BATCH_MAX) void flush();
    else timer ??= setTimeout(() => void flush(), BATCH_MS);
  }

  function end(row: CallRow, from: string, patch: Partial<CallRow>): void {
    change({ ...row, ...patch, status: "ended" }, from, "call_ended");
  }

  const durationMs = (answer: string, at: number) =>
    Math.max(0, Math.round((at - (parseTimestamp(answer) ?? at)) / 1000));

  const hangUp = (row: CallRow, at: number) =>
    end(row, "answered", { tm_end: formatMicros(at), duration_ms: durationMs(row.tm_answer, at) });

  /**
   * The BYE of a call this node did not see answered: from the database, after our own writes.
   * The node that saw the answer may not have written it yet (up to BATCH_MS): looked for again
   * once after that.
   */
  async function lookUp(callId: string): Promise<void> {
    const at = clock();
    await flush();
    let rows = await calls.answeredByCallId(callId);
    if (rows.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 2 * BATCH_MS));
      rows = await calls.answeredByCallId(callId);
    }
    for (const row of rows) hangUp(row, at);
  }

  return {
    started(c: CallStart) {
      if (pending.size >= MAX_TRACKED) return;
      const row: CallRow = {
        id: timeOrderedUuid(clock() / 1000),
        customer_id: c.customerId,
        call_id: c.callId,
        from_uri: c.fromUri,
        to_uri: c.toUri,
        extension_id: c.extensionId,
        caller_extension_id: c.callerExtensionId,
        direct: c.direct ? 1 : 0,
        source: c.source,
        status: "ringing",
        result: "",
        sip_code: 0,
        tm_create: now(),
        tm_answer: "",
        tm_end: "",
        duration_ms: 0,
      };
      pending.set(c.key, row);
      change(row, null, "call_started");
      deps.onStarted?.();
    },
    answered(key) {
      const ringing = pending.get(key);
      if (!ringing) return;
      pending.delete(key);
      const row = { ...ringing, status: "answered", result: "answered", sip_code: 200, tm_answer: now() };
      change(row, "ringing", "call_answered");
      const same = answered.get(row.call_id);
      if (same) same.push(row);
      else if (answered.size < MAX_TRACKED) answered.set(row.call_id, [row]);
    },
    failed(key, status, result) {
      const ringing = pending.get(key);
      if (!ringing) return;
      pending.delete(key);
      end(ringing, "ringing", { result, sip_code: status, tm_end: now() });
    },
    hungUp(callId) {
      if (callId === "") return;
      const rows = answered.get(callId);
      if (rows) {
        answered.delete(callId);
        const at = clock();
        for (const row of rows) hangUp(row, at);
        return;
      }
      // The BYE may come to any node: the answered call is found by its Call-ID in the database.
      const p = lookUp(callId)
        .catch(deps.onError)
        .finally(() => lookups.delete(p));
      lookups.add(p);
    },
    async sweep() {
      const at = clock();
      const before = formatMicros(at - MAX_ANSWERED_US);
      // Kept here too long: the database's answered calls below are ended instead.
      for (const [callId, rows] of answered) {
        if (rows.every((r) => r.tm_create < before)) answered.delete(callId);
      }
      await flush();
      const stale = await calls.answeredBefore(before, 1000);
      for (const row of stale) {
        const endAt = (parseTimestamp(row.tm_create) ?? at) + MAX_ANSWERED_US;
        end(row, "answered", {
          tm_end: formatMicros(endAt),
          duration_ms: durationMs(row.tm_answer, endAt),
        });
      }
      await flush();
      return stale.length;
    },
    async settled() {
      while (lookups.size > 0 || queue.size > 0) {
        await Promise.all(lookups);
        await flush();
      }
      await writing;
    },
  };
}
