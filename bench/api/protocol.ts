// What the orchestrator (run.ts) and its child processes tell each other, as JSON (each child
// prints its result with printResult of bench/proc.ts).

/** One autocannon measurement, run by load.ts in its own process. */
export interface LoadSpec {
  /** http://127.0.0.1:PORT */
  origin: string;
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  /** A fixed JSON body, or a template whose `extension` is replaced by a fresh name per request. */
  body?: Record<string, unknown>;
  /** With a body: give every request its own `extension`, starting with this prefix. */
  uniqueExtensionPrefix?: string;
  connections: number;
  /** Seconds of unrecorded load before the measurement (JIT, caches, connection set-up). */
  warmup: number;
  /** Seconds measured. */
  duration: number;
}

/** Mean requests per second over the measured seconds; latency percentiles in milliseconds. */
export type LoadResult = { rps: number; p50: number; p99: number; total: number } & Failures;
type Failures = { errors: number; timeouts: number; non2xx: number; statusCodes: Record<string, number> };

/** Printed by seed.ts: the first-run admin's password, the page token that skips the OFFSET newest. */
export type SeedResult = { password: string; pageToken: string; seconds: number };

/** Printed by load.ts when the warm-up is over and the measured seconds begin. */
export const MEASURING_LINE = "BENCH_MEASURING";
