// Child processes of the benchmarks (bench:sip, bench:calls) and what is measured of them: CPU
// ticks, memory, machine load, from /proc. Every child is tracked and stopped
// with its descendants, by pid, on the way out (exit, error, SIGINT/SIGTERM/SIGHUP); each one is
// also bounded in time by itself (timeout(1), SIPp -timeout, the orphan guard of node children).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createInterface } from "node:readline";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A progress logger: lines on stderr, prefixed with the benchmark's name. */
export const logger =
  (name: string) =>
  (message: string): void => {
    process.stderr.write(`[${name}] ${message}\n`);
  };

/** The environment of a child: ours, minus any sipext setting or database that could leak in. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("SIPEXT_") || k === "DATABASE_URL" || k === "NODE_OPTIONS") continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: gave up after ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The parent and the utime+stime+cutime+cstime ticks of a process, from /proc/PID/stat. */
function readStat(pid: number): { ppid: number; ticks: number; childTicks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ")"
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]),
      childTicks: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `pid` (children first, found through /proc). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s) continue;
    const list = parentOf.get(s.ppid) ?? [];
    list.push(Number(name));
    parentOf.set(s.ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parentOf.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

/** CPU ticks (utime+stime) of a process and its live descendants. */
export function treeTicks(pid: number): number {
  let t = 0;
  for (const p of [pid, ...descendants(pid)]) t += readStat(p)?.ticks ?? 0;
  return t;
}

/**
 * CPU ticks of the children this process has waited for (cutime+cstime of /proc/self/stat):
 * a SIPp run that ended between two reads is in the difference (timeout(1) waits for SIPp, and we
 * wait for timeout(1), so its time reaches us).
 */
export function reapedChildTicks(): number {
  return readStat(process.pid)?.childTicks ?? 0;
}

export const HZ = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** Resident and proportional set size of a process tree, kB (PSS shares shared memory out fairly). */
export function treeMemKb(pid: number): { rssKb: number; pssKb: number; nproc: number } {
  let rssKb = 0;
  let pssKb = 0;
  let nproc = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const text = readFileSync(`/proc/${p}/smaps_rollup`, "utf8");
      rssKb += Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
      pssKb += Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
      nproc++;
    } catch {
      // gone
    }
  }
  return { rssKb, pssKb, nproc };
}

/** "busy total" jiffies of the whole machine (busy = user+nice+system+irq+softirq). */
export function machineJiffies(): { busy: number; total: number } {
  const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0);
  return { busy, total };
}

/** Percent of all cores busy over `ms`. */
export async function machineBusy(ms = 2_000): Promise<number> {
  const a = machineJiffies();
  await sleep(ms);
  const b = machineJiffies();
  return b.total > a.total ? Math.round((100 * (b.busy - a.busy)) / (b.total - a.total)) : 0;
}

export function sh(cmd: string, argv: string[], timeoutMs = 10_000): string {
  const r = spawnSync(cmd, argv, { encoding: "utf8", timeout: timeoutMs });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
}

export interface ChildOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** print its stderr lines as they come, prefixed with the label */
  forwardStderr?: boolean;
  /** a stdin pipe we never close (node children: orphan-guard.ts ends them when we die) */
  stdinPipe?: boolean;
  /** keep its stdout lines (default); "ignore" for chatty programs such as SIPp */
  stdout?: "lines" | "ignore";
}

const children = new Set<Child>();

export class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  /** the last 2000 lines of its stdout */
  readonly stdoutLines: string[] = [];
  stdoutCount = 0;
  readonly stderrTail: string[] = [];
  private exitCode: number | null | undefined;
  private readonly lineWaiters = new Set<() => void>();

  constructor(
    readonly label: string,
    command: string,
    argv: string[],
    opts: ChildOptions = {},
  ) {
    this.proc = spawn(command, argv, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.stdinPipe ? "pipe" : "ignore", opts.stdout === "ignore" ? "ignore" : "pipe", "pipe"],
    });
    children.add(this);
    if (this.proc.stdout) {
      createInterface({ input: this.proc.stdout }).on("line", (line) => {
        this.stdoutLines.push(line);
        this.stdoutCount++;
        if (this.stdoutLines.length > 2000) this.stdoutLines.shift();
        for (const w of this.lineWaiters) w();
      });
    }
    createInterface({ input: this.proc.stderr! }).on("line", (line) => {
      if (opts.forwardStderr) process.stderr.write(`[${label}] ${line}\n`);
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
      for (const w of this.lineWaiters) w();
    });
    this.exited = new Promise((resolveExit) => {
      this.proc.on("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        children.delete(this);
        for (const w of this.lineWaiters) w();
        resolveExit(this.exitCode);
      });
      this.proc.on("error", (err) => {
        this.stderrTail.push(String(err));
        this.exitCode = -1;
        children.delete(this);
        resolveExit(-1);
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

  /** Resolves once a stdout or stderr line matches (rejects when the child exits first). */
  async waitForLine(re: RegExp, timeoutMs: number): Promise<string> {
    const find = () => [...this.stdoutLines, ...this.stderrTail].find((l) => re.test(l));
    return within(
      timeoutMs,
      `${this.label} (waiting for ${re})`,
      new Promise<string>((resolveLine, reject) => {
        const check = () => {
          const hit = find();
          if (hit !== undefined) {
            this.lineWaiters.delete(check);
            resolveLine(hit);
          } else if (!this.running) {
            this.lineWaiters.delete(check);
            reject(this.failure(`exited with ${this.exitCode} before printing ${re}`));
          }
        };
        this.lineWaiters.add(check);
        check();
      }),
    );
  }

  /** The JSON after `prefix` on stdout, once the child has exited with 0. */
  async result<T>(prefix: string, timeoutMs: number): Promise<T> {
    const code = await within(timeoutMs, this.label, this.exited);
    const line = this.stdoutLines.find((l) => l.startsWith(prefix));
    if (code !== 0 || !line) throw this.failure(`exited with ${code} and no result`);
    return JSON.parse(line.slice(prefix.length)) as T;
  }

  /** `signal` to the child and its descendants, SIGKILL to whatever is left after `graceMs`. */
  async stop(graceMs = 15_000, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (!this.running) return;
    const tree = [this.pid, ...descendants(this.pid)];
    signalAll(tree, signal);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && tree.some(alive)) await sleep(100);
    signalAll(tree.filter(alive), "SIGKILL");
    await within(10_000, `${this.label} exit`, this.exited).catch(() => undefined);
  }

  /** Synchronous last resort (process exit): SIGKILL the whole tree. */
  killNow(): void {
    if (!this.running) return;
    signalAll([this.pid, ...descendants(this.pid)], "SIGKILL");
  }
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop()));
}

export function killAllChildrenNow(): void {
  for (const c of children) c.killNow();
}

/**
 * A run that ends, however it ends, leaves no child behind: at exit every child is killed and
 * `atExit` runs; on SIGINT, SIGTERM or SIGHUP the children are stopped, `cleanup` runs and the
 * process exits with 130.
 */
export function stopChildrenOnExit(
  log: (line: string) => void,
  cleanup: () => Promise<void>,
  atExit: () => void,
): void {
  process.on("exit", () => {
    killAllChildrenNow();
    atExit();
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      log(`${signal}: stopping the child processes`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

/**
 * argv that bounds `command` in time and ties it to us: timeout(1) sends `signal` after
 * `seconds` (and SIGKILL 5 s later), and setpriv --pdeathsig makes timeout(1) pass SIGTERM on to
 * the command when this process dies, even by SIGKILL.
 */
export function bounded(seconds: number, command: string, argv: string[], signal = "TERM"): string[] {
  return [
    "--pdeathsig",
    "TERM",
    "timeout",
    "-s",
    signal,
    "-k",
    "5",
    String(Math.max(1, Math.ceil(seconds))),
    command,
    ...argv,
  ];
}

export async function portFree(port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((r) => {
    const s = createServer();
    s.once("error", () => r(false));
    s.listen(port, "127.0.0.1", () => s.close(() => r(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((r) => {
    const s = createSocket("udp4");
    s.once("error", () => {
      s.close();
      r(false);
    });
    s.bind(port, "127.0.0.1", () => s.close(() => r(true)));
  });
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, "\\$1")}"`;
}

/** The parent, grandparent, ... of `pid` (npm and tsx start us). */
export function ancestors(pid: number): number[] {
  const out: number[] = [];
  let p = pid;
  for (let i = 0; i < 64; i++) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      p = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      break;
    }
    if (!(p > 1)) break;
    out.push(p);
  }
  return out;
}

/** The busiest processes that are not ours, for the record of how loaded the machine was. */
export function otherLoad(): string[] {
  const ours = new Set([process.pid, ...descendants(process.pid), ...ancestors(process.pid)]);
  return sh("ps", ["-eo", "pid,pcpu,etime,args", "--sort=-pcpu", "--no-headers"])
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !ours.has(Number(l.split(/\s+/)[0])) && Number(l.split(/\s+/)[1]) >= 5)
    .slice(0, 6)
    .map((l) => (l.length > 150 ? `${l.slice(0, 150)}…` : l));
}
