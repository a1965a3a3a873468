// What the orchestrator (run.ts) and its child processes tell each other, as JSON.

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

export interface LoadResult {
  /** Mean requests per second over the measured seconds. */
  rps: number;
  /** Latency in milliseconds. */
  p50: number;
  p99: number;
  avg: number;
  total: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
}

/** Printed by seed.ts when it is done. */
export interface SeedResult {
  username: string;
  password: string;
  customerId: string;
  created: number;
  seconds: number;
}

/** Marks the one stdout line a child process reports its result on. */
export const RESULT_PREFIX = "BENCH_RESULT ";

/** Printed by load.ts when the warm-up is over and the measured seconds begin. */
export const MEASURING_LINE = "BENCH_MEASURING";
