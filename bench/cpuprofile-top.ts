// The top self-time functions (and files) of a V8 .cpuprofile, as `node --cpu-prof` writes it.
//   tsx bench/cpuprofile-top.ts FILE.cpuprofile [N]
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface TopEntry {
  name: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** ms outside "(idle)": what the process spent working */
  busyMs: number;
  functions: TopEntry[];
  files: TopEntry[];
}

function shortUrl(url: string): string {
  if (url === "") return "";
  let path = url;
  try {
    if (url.startsWith("file:")) path = fileURLToPath(url);
  } catch {
    // keep the URL as it is
  }
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) return path.slice(nm + "node_modules/".length);
  const src = path.search(/\/(src|bench)\//);
  return src >= 0 ? path.slice(src + 1) : path;
}

/** The node arguments that write a CPU profile into `dir` when the process exits. */
export const cpuProfArgs = (dir: string): string[] => ["--cpu-prof", `--cpu-prof-dir=${dir}`];

/**
 * The profile `node --cpu-prof` wrote into `dir` (a temp dir, removed after the run), copied to
 * `keepAs`; undefined when none was written.
 */
export function keepProfile(dir: string, keepAs: string): string | undefined {
  const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith(".cpuprofile")) : undefined;
  if (!file) return undefined;
  copyFileSync(join(dir, file), keepAs);
  return keepAs;
}

export function summarize(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const cf = (byId.get(id) as ProfileNode).callFrame;
    total += us;
    if (cf.functionName === "(idle)") idle += us;
    const url = shortUrl(cf.url);
    const name = url ? `${cf.functionName || "(anonymous)"} ${url}:${cf.lineNumber + 1}` : cf.functionName;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const f = url ? url.replace(/:\d+$/, "") : cf.functionName;
    files.set(f, (files.get(f) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>): TopEntry[] =>
    [...m]
      .filter(([name]) => name !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, pct: busy > 0 ? (100 * us) / busy : 0 }));
  return { totalMs: total / 1000, busyMs: busy / 1000, functions: rank(fn), files: rank(files) };
}

export function formatSummary(s: ProfileSummary): string {
  const row = (e: TopEntry) =>
    `${e.pct.toFixed(1).padStart(6)} % ${e.ms.toFixed(0).padStart(8)} ms  ${e.name}`;
  return [
    `profile: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy (percentages of busy time)`,
    "top self time by function:",
    ...s.functions.map(row),
    "top self time by file:",
    ...s.files.map(row),
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: tsx bench/cpuprofile-top.ts FILE.cpuprofile [N]\n");
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(summarize(file, Number(process.argv[3] ?? 25)))}\n`);
}
