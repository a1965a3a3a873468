// The transaction layer's clock (RFC 3261 §17, Table 4 of Appendix A). Transactions take a
// `Timers` so that tests (and a future timer wheel) can stand in for setTimeout.

/** RFC 3261 §17.1.1.1: "T1 is an estimate of the round-trip time (RTT), and it defaults to 500 ms." */
export const T1 = 500;
/** RFC 3261 §17.1.2.2: the maximum retransmit interval for non-INVITE requests and INVITE responses. */
export const T2 = 4000;
/** RFC 3261 §17.1.2.2: "T4 represents the amount of time the network will take to clear messages". */
export const T4 = 5000;

/** Opaque: whatever `set` returned, handed back to `clear`. */
export type TimerHandle = object;

export interface Timers {
  /** Calls `fn` once after `ms` milliseconds (0 means on the next turn of the event loop). */
  set(ms: number, fn: () => void): TimerHandle;
  /** Cancels a timer; a fired, cleared or undefined handle is ignored. */
  clear(h: TimerHandle | undefined): void;
}

/**
 * setTimeout, unref'd: a pending retransmission or Timer D never keeps the process alive (the
 * sockets do that while the server runs).
 */
export const defaultTimers: Timers = {
  set(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clear(h) {
    // Only handles made by `set` above reach here: they are Node's Timeout objects.
    if (h !== undefined) clearTimeout(h as NodeJS.Timeout);
  },
};
