// What the SIP benchmark's children print back to the orchestrator (one JSON line each).
export const RESULT_PREFIX = "BENCH_SIP_RESULT ";

export interface SeedResult {
  customers: number;
  extensions: number;
  ms: number;
}

export interface MemoryResult {
  bindings: number;
  extensions: number;
  heapBefore: number;
  heapAfter: number;
  bytesPerBinding: number;
  /** live bindings in the index, checked with size() */
  indexed: number;
  /** writes that reached the (no-op) store through flush() */
  writesFlushed: number;
  ms: number;
}
