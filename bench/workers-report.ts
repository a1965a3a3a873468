// `--workers N` of bench:sip and bench:calls (CONTRACT §15, issue #15): sipext on PostgreSQL with
// SIPEXT_WORKERS=1 and =N, ramped in the same run (and Kamailio as the reference), CPU and memory
// summed over sipext's process tree (the primary and its workers). This module holds what both
// share: the server's environment, and the BENCHMARKS.md section of the ramps.
import { markdownTable, sectionOf } from "./benchmarks-md.js";
import type { Machine } from "./machine.js";
import { fmt, memory, type Ramp, type Step } from "./ramp-report.js";

/** The acceptance of #15: N workers reach this many times the rate of 1 on the 2-core machine. */
export const WORKERS_TARGET = 1.5;

/** The settings of a sipext on PostgreSQL with `workers` processes (1: no cluster, as a node). */
export const workersEnv = (databaseUrl: string, workers: number): Record<string, string> => ({
  DATABASE_URL: databaseUrl,
  SIPEXT_WORKERS: String(workers),
});

/** A step as the workers' report reads it: the server's and the load generators' CPU. */
export type WorkersStep = Step & { loadCpuPct: number };

export interface WorkersRamp<S extends WorkersStep> {
  workers: number;
  schema: string;
  ramp: Ramp<S>;
}

/** The ramp of `workers` processes, or undefined. */
export const rampOfWorkers = <S extends WorkersStep>(rs: WorkersRamp<S>[], workers: number) =>
  rs.find((r) => r.workers === workers);

/** rate(N workers) / rate(1 worker), when both ran. */
export function workersRatio<S extends WorkersStep>(rs: WorkersRamp<S>[], n: number): number | undefined {
  const [one, many] = [rampOfWorkers(rs, 1), rampOfWorkers(rs, n)];
  return one && many && one.ramp.perSecond > 0 ? many.ramp.perSecond / one.ramp.perSecond : undefined;
}

/** A log line of the ratio and its verdict. */
export function workersVerdict<S extends WorkersStep>(rs: WorkersRamp<S>[], n: number): string {
  const r = workersRatio(rs, n);
  if (r === undefined) return `${n} workers / 1 worker: n/a`;
  const caveat = rs.some((x) => !x.ramp.firstFail)
    ? " (a ramp passed every step: its limit was not reached, extend --rates)"
    : "";
  return `${n} workers / 1 worker = ${r.toFixed(2)} (target ≥ ${WORKERS_TARGET}: ${r >= WORKERS_TARGET ? "met" : "NOT met"})${caveat}`;
}

/**
 * The BENCHMARKS.md section `name`: command, date, machine, load, the best step of each ramp
 * (Kamailio's, then sipext's with 1 and N workers), the ratios, `notes`, and every step.
 */
export function workersSection<S extends WorkersStep>(o: {
  name: string;
  title: string;
  unit: string;
  command: string;
  machine: Machine;
  postgres: string;
  bullets: string[];
  loadLabel: string;
  kamailio: Ramp<S> | undefined;
  ramps: WorkersRamp<S>[];
  n: number;
  notes: string[];
  steps: Array<[head: string, cell: (s: S) => string]>;
}): string {
  const m = o.machine;
  const ratio = workersRatio(o.ramps, o.n);
  const left = (s: S | undefined) => (s ? fmt(Math.max(0, 100 * Number(m.nproc) - s.loadCpuPct)) : "n/a");
  const row = (name: string, r: Ramp<S>) => [
    name,
    `**${fmt(r.perSecond)}**`,
    fmt(r.best?.cpuPct),
    fmt(r.best?.loadCpuPct),
    left(r.best),
    memory(r.best),
    r.firstFail ? `${fmt(r.firstFail.rate)} (${r.firstFail.failPct} % failed)` : "none (limit not reached)",
  ];
  const kam = o.kamailio;
  const rows = [
    ...(kam ? [row(`Kamailio ${m.kamailio}`, kam)] : []),
    ...o.ramps.map((r) => row(`sipext, SIPEXT_WORKERS=${r.workers}`, r.ramp)),
  ];
  const vsKam = (r: WorkersRamp<S>) =>
    kam && kam.perSecond > 0 ? `${(r.ramp.perSecond / kam.perSecond).toFixed(2)}` : "n/a";
  const stepsTable = (label: string, r: Ramp<S>) =>
    markdownTable(`rrr${"r".repeat(o.steps.length)}c`, [
      [`${label} target/s`, "achieved/s", "failed %", ...o.steps.map(([h]) => h), "pass"],
      ...r.steps.map((s) => [
        fmt(s.rate),
        fmt(s.achieved),
        String(s.failPct),
        ...o.steps.map(([, cell]) => cell(s)),
        s.pass ? "yes" : "no",
      ]),
    ]);
  const verdict = ratio === undefined ? "n/a" : `${ratio >= WORKERS_TARGET ? "met" : "**not met**"}`;
  return sectionOf(o.name, [
    `## ${o.title}`,
    "",
    `- Command: ${o.command}`,
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} cores (${m.cpu}), ${m.ramGiB} GiB RAM, Linux ${m.kernel}, node ${m.node}, ` +
      `Kamailio ${m.kamailio}, SIPp ${m.sipp}, ${o.postgres} on the same machine; SIPp, PostgreSQL and the server share the cores.`,
    `- sipext: \`dist/cli/main.js serve\` (as \`npm start\` runs it) with \`DATABASE_URL\` = one fresh schema (\`${o.ramps[0]?.schema ?? "n/a"}\`, ` +
      "seeded once, its bindings, events and bans emptied before each ramp, dropped after) and `SIPEXT_WORKERS` = 1 " +
      `(no cluster: one process) or ${o.n} (a primary and ${o.n} workers sharing the ports).`,
    ...o.bullets.map((b) => `- ${b}`),
    "",
    `Highest sustained rate of each (${o.unit}); CPU (% of one core) and memory summed over the server's process tree at that step; ` +
      `"${o.loadLabel}" is the load generators' CPU and "left" what remains of the ${m.nproc} cores for the server:`,
    "",
    ...markdownTable("lrrrrll", [
      [
        o.unit,
        "per second",
        "server CPU %",
        `${o.loadLabel} CPU %`,
        "left %",
        "server RSS",
        "first failing target/s",
      ],
      ...rows,
    ]),
    "",
    `**${o.n} workers / 1 worker = ${ratio === undefined ? "n/a" : ratio.toFixed(2)}** (target ≥ ${WORKERS_TARGET}: ${verdict}); ` +
      `against Kamailio: ${o.ramps.map((r) => `${r.workers} worker${r.workers > 1 ? "s" : ""} ${vsKam(r)}`).join(", ")}.`,
    "",
    ...o.notes.flatMap((n) => [n, ""]),
    "<details><summary>Every ramp step</summary>",
    "",
    ...(kam ? [...stepsTable("Kamailio", kam), ""] : []),
    ...o.ramps.flatMap((r) => [...stepsTable(`${r.workers} worker(s)`, r.ramp), ""]),
    "</details>",
  ]);
}
