// Shared by bench/calls/run.ts and its children: what a child prints back (the user set is bench/user-set.ts).
export const RESULT_PREFIX = "BENCH_CALLS_RESULT ";

/** SIPEXT_DIRECT_DOMAIN of the benchmark: host of the public direct addresses */
export const DIRECT_DOMAIN = "direct.example.test";

export interface SeedResult {
  customers: number;
  extensions: number;
  /** the SIPp injection file of the callees' direct addresses that the seed wrote */
  directCsv: string;
  ms: number;
}
