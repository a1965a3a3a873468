// The top self-time functions (and files) of a V8 .cpuprofile, as `node --cpu-prof` writes it.
//   tsx bench/cpuprofile-top.ts FILE.cpuprofile [N]
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame };
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

/** node_modules/… or src/…, bench/… of a script's URL. */
function shortUrl(url: string): string {
  const path = url.startsWith("file:") ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) return path.slice(nm + "node_modules/".length);
  const src = path.search(/\/(src|bench|dist)\//);
  return src >= 0 ? path.slice(src + 1) : path;
}

/** The node arguments that write a CPU profile into `dir` when the process exits. */
export const cpuProfArgs = (dir: string): string[] => ["--cpu-prof", `--cpu-prof-dir=${dir}`];

/**
 * Logs the top self-time functions of the profile `node --cpu-prof` wrote into `dir` (a temp dir,
 * removed after the run), kept as /tmp/sipext-bench-NAME.cpuprofile.
 */
export function logProfile(log: (line: string) => void, dir: string, name: string): void {
  const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith(".cpuprofile")) : undefined;
  if (!file) return log("no .cpuprofile was written");
  const kept = join(tmpdir(), `sipext-bench-${name}.cpuprofile`);
  copyFileSync(join(dir, file), kept);
  log(`sipext CPU profile (${kept}), under load:`);
  for (const l of top(kept, 30).split("\n")) log(`  ${l}`);
}

/** The `n` functions and files with the most self time, in percent of the time not idle. */
export function top(file: string, n = 25): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const frames = new Map(p.nodes.map((node) => [node.id, node.callFrame]));
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const [fns, files] = [new Map<string, number>(), new Map<string, number>()];
  const add = (m: Map<string, number>, key: string, us: number) => m.set(key, (m.get(key) ?? 0) + us);
  let [total, idle] = [0, 0];
  for (const [id, us] of selfUs) {
    const cf = frames.get(id) as CallFrame;
    total += us;
    if (cf.functionName === "(idle)") idle += us;
    const url = shortUrl(cf.url);
    add(fns, url ? `${cf.functionName || "(anonymous)"} ${url}:${cf.lineNumber + 1}` : cf.functionName, us);
    add(files, url ? url.replace(/:\d+$/, "") : cf.functionName, us);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>) =>
    [...m]
      .filter(([name]) => name !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => {
        const pct = busy > 0 ? (100 * us) / busy : 0;
        return `${pct.toFixed(1).padStart(6)} % ${(us / 1000).toFixed(0).padStart(8)} ms  ${name}`;
      });
  const s = (us: number) => (us / 1e6).toFixed(1);
  return [
    `profile: ${s(total)} s sampled, ${s(busy)} s busy (percentages of busy time)`,
    "top self time by function:",
    ...rank(fns),
    "top self time by file:",
    ...rank(files),
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!process.argv[2]) {
    process.stderr.write("usage: tsx bench/cpuprofile-top.ts FILE.cpuprofile [N]\n");
    process.exit(2);
  }
  process.stdout.write(`${top(process.argv[2], Number(process.argv[3] ?? 25))}\n`);
}
