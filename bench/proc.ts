// The child processes of the benchmarks and what is measured of them (CPU ticks, memory, machine
// load, from /proc). Every child is tracked and stopped with its descendants, by pid, on the way
// out (exit, error, SIGINT/SIGTERM/SIGHUP); each one is also bounded by itself (timeout(1), SIPp
// -timeout, or orphan-guard.mjs for node children).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository: the cwd of node children. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Marks the stdout line a child reports its result on (printResult writes it, Child.result reads it). */
export const RESULT_PREFIX = "BENCH_RESULT ";
export const printResult = (r: unknown) => process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(r)}\n`);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A progress logger: lines on stderr, prefixed with the benchmark's name. */
export const logger = (name: string) => (line: string) => void process.stderr.write(`[${name}] ${line}\n`);

/** The environment of a child: ours, minus any sipext setting or database that could leak in. */
export const childEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !LEAKS.test(k))),
  ...extra,
});
const LEAKS = /^(SIPEXT_|DATABASE_URL$|NODE_OPTIONS$)/;

/** The environment of a sipext server on 127.0.0.1 (ports 0: any free one), logging at warn level. */
export const sipextEnv = (dataDir: string, sip: number, http: number, extra: Record<string, string> = {}) =>
  childEnv({
    SIPEXT_DATA_DIR: dataDir,
    SIPEXT_SIP_HOST: "127.0.0.1",
    SIPEXT_SIP_PORT: String(sip),
    SIPEXT_HTTP_HOST: "127.0.0.1",
    SIPEXT_HTTP_PORT: String(http),
    SIPEXT_LOG_LEVEL: "warn",
    ...extra,
  });

export function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: gave up after ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** stdout and stderr of a command run to its end. */
export function sh(cmd: string, argv: string[], timeoutMs = 10_000): string {
  const r = spawnSync(cmd, argv, { encoding: "utf8", timeout: timeoutMs });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
}

export const shellQuote = (s: string) =>
  /^[A-Za-z0-9_./:=,-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, "\\$1")}"`;

// ---------------------------------------------------------------------------------------------
// /proc

/** The parent, the utime+stime ticks and the cutime+cstime ticks (of reaped children) of a process. */
function readStat(pid: number): { ppid: number; ticks: number; childTicks: number } | undefined {
  const stat = readProc(`${pid}/stat`);
  if (stat === undefined) return undefined; // gone
  // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ")"
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const n = (i: number) => Number(f[i] ?? 0);
  return { ppid: n(1), ticks: n(11) + n(12), childTicks: n(13) + n(14) };
}

/** A file under /proc, or undefined when its process is gone. */
export function readProc(path: string): string | undefined {
  try {
    return readFileSync(`/proc/${path}`, "utf8");
  } catch {
    return undefined;
  }
}

/** Every live descendant of `pid`. */
export function descendants(pid: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const s = /^\d+$/.test(name) ? readStat(Number(name)) : undefined;
    if (s) childrenOf.set(s.ppid, [...(childrenOf.get(s.ppid) ?? []), Number(name)]);
  }
  const tree = (p: number): number[] => (childrenOf.get(p) ?? []).flatMap((c) => [c, ...tree(c)]);
  return tree(pid);
}

/** Our own processes: this one, its descendants and its ancestors (npm and tsx start us). */
export function ourPids(): Set<number> {
  const ours = new Set([process.pid, ...descendants(process.pid)]);
  let p = process.pid;
  for (let i = 0; i < 64 && p > 1; i++) ours.add((p = readStat(p)?.ppid ?? 0));
  return ours;
}

export function signalAll(pids: number[], signal: NodeJS.Signals | 0): number[] {
  return pids.filter((p) => {
    try {
      return process.kill(p, signal);
    } catch {
      return false; // gone
    }
  });
}

let hz: number | undefined;
/** Clock ticks per second of /proc's CPU times. */
export const HZ = () => (hz ??= Number(sh("getconf", ["CLK_TCK"])) || 100);

/** CPU ticks (utime+stime) of one process. */
export const processTicks = (pid: number) => readStat(pid)?.ticks;

/** CPU ticks of a process and its live descendants. */
export const treeTicks = (pid: number) =>
  [pid, ...descendants(pid)].reduce((t, p) => t + (readStat(p)?.ticks ?? 0), 0);

/**
 * CPU ticks of the children this process has waited for: a SIPp run that ended between two
 * readings is in the difference (timeout(1) waits for SIPp, and we wait for timeout(1)).
 */
export const reapedChildTicks = () => readStat(process.pid)?.childTicks ?? 0;

/** Resident and proportional set size of a process tree, kB (PSS shares shared memory out fairly). */
export function treeMemKb(pid: number): { rssKb: number; pssKb: number; nproc: number } {
  const m = { rssKb: 0, pssKb: 0, nproc: 0 };
  for (const text of [pid, ...descendants(pid)].map((p) => readProc(`${p}/smaps_rollup`))) {
    if (text === undefined) continue; // gone
    m.rssKb += Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    m.pssKb += Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    m.nproc++;
  }
  return m;
}

/** "busy total" jiffies of the whole machine (busy = user+nice+system+irq+softirq). */
export function machineJiffies(): { busy: number; total: number } {
  const f = (readProc("stat")?.split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0);
  return { busy, total: f.reduce((a, b) => a + b, 0) };
}

/** Percent of all cores busy between two machineJiffies() readings. */
export const busyPct = (a: { busy: number; total: number }, b: { busy: number; total: number }) =>
  b.total > a.total ? Math.round((100 * (b.busy - a.busy)) / (b.total - a.total)) : Number.NaN;

/** Percent of all cores busy over `ms`. */
export async function machineBusy(ms = 2_000): Promise<number> {
  const a = machineJiffies();
  await sleep(ms);
  return busyPct(a, machineJiffies()) || 0;
}

/** The busiest processes that are not ours, for the record of how loaded the machine was. */
export function otherLoad(): string[] {
  const ours = ourPids();
  return sh("ps", ["-eo", "pid,pcpu,etime,args", "--sort=-pcpu", "--no-headers"])
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !ours.has(Number(l.split(/\s+/)[0])) && Number(l.split(/\s+/)[1]) >= 5)
    .slice(0, 6)
    .map((l) => (l.length > 150 ? `${l.slice(0, 150)}…` : l));
}

/** Datagrams the kernel dropped for the UDP socket(s) bound to 127.0.0.1:port (receive queue full). */
export function udpDrops(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const sockets = (readProc("net/udp") ?? "").split("\n").slice(1);
  return sockets.reduce((drops, line) => {
    const f = line.trim().split(/\s+/);
    return f[1]?.endsWith(hex) ? drops + Number(f.at(-1) ?? 0) : drops;
  }, 0);
}

/** `port` when it is free on 127.0.0.1 for TCP and UDP (undefined when not); 0: any free TCP port. */
export async function freePort(port = 0): Promise<number | undefined> {
  const tcp = await new Promise<number | undefined>((r) => {
    const s = createServer().once("error", () => r(undefined));
    s.listen(port, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => r(typeof a === "object" && a ? a.port : undefined));
    });
  });
  if (tcp === undefined || port === 0) return tcp;
  const udp = createSocket("udp4");
  return new Promise((r) => {
    udp.once("error", () => r(undefined)).bind(port, "127.0.0.1", () => udp.close(() => r(port)));
  });
}

// ---------------------------------------------------------------------------------------------
// Children

export interface ChildOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** print its stderr lines as they come, prefixed with the label */
  forwardStderr?: boolean;
  /** a stdin pipe we never close (node children: orphan-guard.mjs ends them when we die) */
  stdinPipe?: boolean;
  /** "ignore" for chatty programs such as SIPp; kept as lines otherwise */
  stdout?: "lines" | "ignore";
}

const children = new Set<Child>();
/** Set once the run is being stopped: no child starts after that. */
let stopping = false;

export class Child {
  readonly proc: ChildProcess;
  /** Its exit code (-1: killed by a signal, or not started), once its output has been read. */
  readonly exited: Promise<number | null>;
  /** the last 2000 lines of its stdout, and how many it wrote */
  readonly stdoutLines: string[] = [];
  stdoutCount = 0;
  readonly stderrTail: string[] = [];
  private exitCode: number | null | undefined;
  /** called with each line of stdout or stderr, and with undefined at the end */
  private readonly listeners = new Set<(line: string | undefined) => void>();

  constructor(
    readonly label: string,
    command: string,
    argv: string[],
    opts: ChildOptions = {},
  ) {
    if (stopping) throw new Error(`${label}: not started, the run is stopping`);
    const stdin = opts.stdinPipe ? "pipe" : "ignore";
    const stdio = [stdin, opts.stdout === "ignore" ? "ignore" : "pipe", "pipe"] as const;
    this.proc = spawn(command, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [...stdio] });
    children.add(this);
    const keep = (tail: string[], max: number, line: string) => {
      tail.push(line);
      if (tail.length > max) tail.shift();
      for (const l of this.listeners) l(line);
    };
    if (this.proc.stdout) {
      createInterface({ input: this.proc.stdout }).on("line", (line) => {
        this.stdoutCount++;
        keep(this.stdoutLines, 2000, line);
      });
    }
    createInterface({ input: this.proc.stderr! }).on("line", (line) => {
      if (opts.forwardStderr) process.stderr.write(`[${label}] ${line}\n`);
      keep(this.stderrTail, 40, line);
    });
    this.exited = new Promise((resolveExit) => {
      const finish = (code: number | null) => {
        if (this.exitCode !== undefined) return;
        this.exitCode = code;
        children.delete(this);
        for (const l of this.listeners) l(undefined);
        resolveExit(code);
      };
      // "close", not "exit": it comes after the last line of output has been read.
      this.proc.on("close", (code, signal) => finish(code ?? (signal ? -1 : null)));
      // Only a failed spawn has no "close" to follow; other errors (a failed kill) change nothing.
      this.proc.on("error", (err) => {
        if (this.proc.pid !== undefined) return;
        this.stderrTail.push(String(err));
        finish(-1);
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  failure(what: string): Error {
    const tail = this.stderrTail.length ? `\n  stderr:\n    ${this.stderrTail.join("\n    ")}` : "";
    return new Error(`${this.label} ${what}${tail}`);
  }

  /**
   * The first line of stdout or stderr, past or future, for which `pick` returns a value; `pick`
   * runs in the line's own event, so it may sample something at that very moment.
   */
  waitFor<T>(pick: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    let listener: ((line: string | undefined) => void) | undefined;
    const found = new Promise<T>((resolveLine, reject) => {
      for (const line of [...this.stdoutLines, ...this.stderrTail]) {
        const v = pick(line);
        if (v !== undefined) return resolveLine(v);
      }
      listener = (line) => {
        const v = line === undefined ? undefined : pick(line);
        if (v !== undefined) resolveLine(v);
        else if (line === undefined) reject(this.failure(`exited with ${this.exitCode} before ${what}`));
      };
      if (this.running) this.listeners.add(listener);
      else listener(undefined);
    });
    return within(timeoutMs, `${this.label} (waiting for ${what})`, found).finally(() => {
      if (listener) this.listeners.delete(listener);
    });
  }

  /** What the child printed with printResult, once it has exited with 0. */
  async result<T>(timeoutMs: number): Promise<T> {
    const isResult = (l: string) => (l.startsWith(RESULT_PREFIX) ? l : undefined);
    const line = await this.waitFor(isResult, timeoutMs, "a result");
    const code = await within(30_000, `${this.label} exit`, this.exited);
    if (code !== 0) throw this.failure(`exited with ${code}`);
    return JSON.parse(line.slice(RESULT_PREFIX.length)) as T;
  }

  /** `signal` to the child and its descendants, SIGKILL to whatever is left after `graceMs`. */
  async stop(graceMs = 15_000, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (!this.running) return;
    const tree = [this.pid, ...descendants(this.pid)];
    signalAll(tree, signal);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && signalAll(tree, 0).length) await sleep(100);
    signalAll(tree, "SIGKILL");
    await within(10_000, `${this.label} exit`, this.exited).catch(() => undefined);
  }
}

/**
 * argv of setpriv(1) that bounds `command` in time and ties it to us: timeout(1) sends `signal`
 * after `seconds` (and SIGKILL 5 s later), and --pdeathsig makes timeout(1) pass SIGTERM on to the
 * command when this process dies, even by SIGKILL.
 */
export function bounded(seconds: number, command: string, argv: string[], signal = "TERM"): string[] {
  const s = String(Math.max(1, Math.ceil(seconds)));
  return ["--pdeathsig", "TERM", "timeout", "-s", signal, "-k", "5", s, command, ...argv];
}

/**
 * The Node flags `npm start` runs the server with (package.json's "start" script: README
 * "Decisions"), given to every sipext server a benchmark starts, so it measures what users run.
 */
export const SERVER_NODE_FLAGS: readonly string[] = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start as string
)
  .split(/\s+/)
  .filter((w) => w.startsWith("--"));

let serverBuilt = false;
/**
 * The server as `npm start` runs it: src/ built to dist/ (scripts/build.mjs, once per benchmark)
 * and run by plain node. Not through tsx: its transform keeps function names (`keepNames`), a
 * call at every closure's creation, which cost the proxy ~10 % of its CPU per call (2026-12-05).
 */
function serverScript(args: string[]): string[] {
  if (!serverBuilt) {
    const r = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`npm run build failed: ${r.stderr || r.stdout}`);
    serverBuilt = true;
  }
  return ["dist/cli/main.js", ...args];
}

/**
 * node running `script` (a benchmark's own TypeScript, through tsx; the server, named
 * `src/cli/main.ts serve`, from its build) with the orphan guard; bounded by timeout(1) when
 * `boundS` is given.
 */
export function nodeChild(
  label: string,
  script: string[],
  o: { env: NodeJS.ProcessEnv; nodeArgs?: string[]; boundS?: number; forwardStderr?: boolean },
): Child {
  const server = script[0] === "src/cli/main.ts" && script[1] === "serve";
  const argv = [
    ...(server ? SERVER_NODE_FLAGS : []),
    ...(o.nodeArgs ?? []),
    ...(server ? [] : ["--import", "tsx"]),
    "--import",
    "./bench/orphan-guard.mjs",
    ...(server ? serverScript(script.slice(1)) : script),
  ];
  const [command, args] = o.boundS
    ? ["setpriv", bounded(o.boundS, process.execPath, argv)]
    : [process.execPath, argv];
  const opts = { cwd: ROOT, env: o.env, stdinPipe: true, forwardStderr: o.forwardStderr };
  return new Child(label, command, args, opts);
}

/**
 * Runs a benchmark's `main` in a temp dir of its own, then exits: 0 when it resolved, 1 when it
 * threw, 130 on SIGINT, SIGTERM or SIGHUP. However it ends, every child is stopped (killed, at
 * process exit) and the temp dir removed unless `keep`.
 */
export function runBenchmark(
  name: string,
  log: (line: string) => void,
  keep: boolean | undefined,
  main: (dir: string) => Promise<void>,
) {
  const dir = mkdtempSync(join(tmpdir(), `sipext-bench-${name}-`));
  log(`temp dir ${dir}${keep ? " (kept)" : ""}`);
  const removeDir = () => keep || rmSync(dir, { recursive: true, force: true });
  const cleanup = async () => {
    stopping = true;
    await Promise.all([...children].map((c) => c.stop()));
    removeDir();
  };
  process.on("exit", () => {
    for (const c of children) if (c.running) signalAll([c.pid, ...descendants(c.pid)], "SIGKILL");
    removeDir();
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      log(`${signal}: stopping the child processes`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  main(dir)
    .then(cleanup, async (err: unknown) => {
      log(`failed: ${err instanceof Error ? err.message : String(err)}`);
      await cleanup();
      process.exit(1);
    })
    .then(() => process.exit(0));
}
