// SIPp in bench:calls: its runs (bounded, tied to us, traced into their dir) and what they leave
// behind (the -stf statistics file, the -error_file log).
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bounded, Child, within } from "../proc.js";

/** Where a caller SIPp sends its calls, and what is measured there. */
export interface SippTarget {
  label: string;
  port: number;
  /** the injection file of the callees' Request-URIs */
  csv: string;
  /** the proxy's process tree (undefined: none, calls straight to the callees) */
  pid: number | undefined;
  callees: Child;
}

/** SIPp options as argv: { sf: FILE, r: 100, nostdin: true } → -sf FILE -r 100 -nostdin. */
export const sippArgs = (options: Record<string, string | number | true>) =>
  Object.entries(options).flatMap(([k, v]) => (v === true ? [`-${k}`] : [`-${k}`, String(v)]));

/**
 * SIPp with `argv`, in `dir`, ended by timeout(1) after `boundS` (its own -timeout comes first);
 * it writes NAME_stat.csv (every `fd` s and at its end) and NAME_errors.log there.
 */
export function sipp(label: string, dir: string, name: string, fd: number, boundS: number, argv: string[]) {
  mkdirSync(dir, { recursive: true });
  const [stat, errors] = [join(dir, `${name}_stat.csv`), join(dir, `${name}_errors.log`)];
  const traces = [...sippArgs({ nostdin: true, trace_stat: true, trace_err: true }), "-fd", `${fd}`];
  const bound = bounded(boundS, "sipp", [...argv, ...traces, "-stf", stat, "-error_file", errors]);
  const child = new Child(label, "setpriv", bound, { cwd: dir, stdout: "ignore" });
  return { child, stats: () => readSippStats(stat), errors: () => summarizeErrors(errors) };
}

/** SIPp run to its end (its -timeout `boundS`: ended 10 s later, given up 30 s later), and its statistics. */
export async function sippRun(label: string, dir: string, name: string, boundS: number, argv: string[]) {
  const run = sipp(label, dir, name, 1, boundS + 10, argv);
  await within((boundS + 30) * 1000, label, run.child.exited);
  return { ...run, stats: run.stats() };
}

/** The last line of a SIPp -stf statistics file. */
export function readSippStats(file: string) {
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, "utf8").trim().split("\n");
  if (lines.length < 2) return undefined;
  const head = (lines[0] ?? "").split(";");
  const last = (lines.at(-1) ?? "").split(";");
  const col = (name: string) => last[head.indexOf(name)] ?? "";
  const [h = 0, m = 0, s = 0, us = 0] = col("ResponseTime1(C)").split(":").map(Number);
  const stamp = (v: string) => Number(v.split("\t")[2] ?? Number.NaN);
  return {
    ok: Number(col("SuccessfulCall(C)")),
    failed: Number(col("FailedCall(C)")),
    retrans: Number(col("Retransmissions(C)")),
    avgRtMs: (h * 3600 + m * 60 + s) * 1000 + us / 1000,
    elapsedS: stamp(col("CurrentTime")) - stamp(col("StartTime")),
    /** the failed calls by SIPp's reason (FailedTimeoutOnRecv(C) → TimeoutOnRecv), those that happened */
    failedBy: Object.fromEntries(
      head
        .map((name, i) => [/^Failed(\w+)\(C\)$/.exec(name)?.[1], Number(last[i])] as const)
        .filter((x): x is readonly [string, number] => x[0] !== undefined && x[0] !== "Call" && x[1] > 0),
    ),
  };
}

/** Counts the kinds of events in a SIPp error log (first 4 MB), with one full example of each. */
export function summarizeErrors(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8").slice(0, 4 * 1024 * 1024);
  const kinds = new Map<string, { n: number; example: string }>();
  // Events follow each other without a separator (a quoted message ends with "'").
  for (const e of text.split(/'?\n?(?=\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d+\t)/).slice(1)) {
    const body = e.replace(/^\S+\t\S+\t\S+: /, "");
    const kind = (body.split("\n")[0] ?? "")
      .replace(/Call-I[Dd] '[^']*'/g, "Call-ID '…'")
      .replace(/call \S+@\S+/gi, "call …")
      .replace(/received '.*$/, "received …")
      .replace(/\b\d+\.\d+\.\d+\.\d+\b/g, "IP")
      .replace(/\d{4,}/g, "N")
      .slice(0, 140);
    const k = kinds.get(kind) ?? { n: 0, example: body.slice(0, 1500) };
    k.n++;
    kinds.set(kind, k);
  }
  return [...kinds.entries()]
    .sort((a, b) => b[1].n - a[1].n)
    .slice(0, 5)
    .map(([kind, v]) => `${v.n} × ${kind}\n      e.g. ${v.example.replace(/\r?\n/g, "\n      ")}`);
}
