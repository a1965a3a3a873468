// `npm run bench:api [-- --duration N --connections N --warmup N --quick --no-write --write]`
//
// Measures the sipext REST API against a bare Fastify route, in one run, with the same autocannon
// options, each process on its own: this orchestrator, the load generator (load.ts, autocannon),
// the sipext server (`src/cli/main.ts serve` on embedded SQLite in a temp data dir) and the bare
// reference (bare.ts). Then seeds 100,000 extensions in one customer (seed.ts, through the
// services, before the server starts) and compares the p99 of the first page with the 1,000th.
// For each figure: req/s and p99 from autocannon, and the server's CPU time per request (from
// /proc/PID/stat), which noise from other processes moves much less. Prints a summary and updates
// the API section of BENCHMARKS.md.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import SQLite from "better-sqlite3";
import { sectionMarkers, writeBenchmarkSection } from "../benchmarks-md.js";
import { childEnv, within } from "../proc.js";
import {
  type LoadResult,
  type LoadSpec,
  MEASURING_LINE,
  RESULT_PREFIX,
  type SeedResult,
} from "./protocol.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BENCHMARKS_MD = join(ROOT, "BENCHMARKS.md");
const { begin: SECTION_BEGIN, end: SECTION_END } = sectionMarkers("api");
const PAGE_SIZE = 100;

// ---------------------------------------------------------------------------------------------
// Options

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`--${name} must be a whole number ≥ 1`);
  return Number(raw);
}

function parseOptions() {
  return parseArgs({
    options: {
      duration: { type: "string" },
      connections: { type: "string" },
      warmup: { type: "string" },
      quick: { type: "boolean", default: false },
      write: { type: "boolean" },
      "no-write": { type: "boolean" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  }).values;
}

let args: ReturnType<typeof parseOptions>;
try {
  args = parseOptions();
} catch (err) {
  process.stderr.write(`bench:api: ${err instanceof Error ? err.message : String(err)} (--help for usage)\n`);
  process.exit(2);
}

if (args.help) {
  process.stdout.write(
    [
      "usage: npm run bench:api -- [options]",
      "  --duration N     seconds measured per benchmark (default 10; --quick: 2)",
      "  --connections N  concurrent connections (default 50)",
      "  --warmup N       unrecorded seconds before each measurement (default 3; --quick: 1)",
      "  --quick          smoke run: short measurements, 5,000 seeded extensions instead of 100,000",
      "  --no-write       do not update BENCHMARKS.md (the default with --quick; --write forces it)",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

const quick = args.quick ?? false;
function options() {
  return {
    duration: positive("duration", args.duration, quick ? 2 : 10),
    connections: positive("connections", args.connections, 50),
    warmup: args.warmup === "0" ? 0 : positive("warmup", args.warmup, quick ? 1 : 3),
    /** Extensions created through the API before the single-item and list benchmarks. */
    setupExtensions: quick ? 120 : 200,
    /** Extensions in one customer for the paging comparison, and the deep page measured. */
    seedCount: quick ? 5_000 : 100_000,
    deepPage: quick ? 50 : 1_000,
    write: args["no-write"] ? false : (args.write ?? !quick),
  };
}
let opts: ReturnType<typeof options>;
try {
  opts = options();
} catch (err) {
  process.stderr.write(`bench:api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
const commandLine = [
  "npm run bench:api",
  ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : []),
].join(" ");

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and killed on exit, error or signal.

const children = new Set<Child>();
let tempRoot: string | undefined;

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly stdoutLines: string[] = [];
  private readonly stderrTail: string[] = [];
  private readonly waiters = new Set<{ check: () => boolean; fail: (err: Error) => void }>();
  private finished = false;

  constructor(
    readonly label: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    forwardStderr = false,
  ) {
    // stdin stays a pipe we never close: orphan-guard.ts ends the child when we die.
    this.proc = spawn(
      process.execPath,
      ["--import", "tsx", "--import", "./bench/api/orphan-guard.ts", ...args],
      {
        cwd: ROOT,
        env,
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    children.add(this);
    createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      this.stdoutLines.push(line);
      for (const w of this.waiters) w.check();
    });
    createInterface({ input: this.proc.stderr! }).on("line", (line) => {
      if (forwardStderr) process.stderr.write(`[${label}] ${line}\n`);
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
    });
    this.exited = new Promise((resolveExit) => {
      const finish = (code: number | null, why: string) => {
        if (this.finished) return;
        this.finished = true;
        children.delete(this);
        const err = this.failure(why);
        for (const w of this.waiters) w.fail(err);
        resolveExit(code);
      };
      // "close", not "exit": it comes after the last stdout line has been read.
      this.proc.on("close", (code, signal) => finish(code, `exited (code ${code}, signal ${signal})`));
      // Only a failed spawn has no "close" to follow; other errors (a failed kill) change nothing.
      this.proc.on("error", (err) => {
        if (this.proc.pid === undefined) finish(null, `could not start: ${err.message}`);
      });
    });
  }

  get running(): boolean {
    return !this.finished;
  }

  failure(what: string): Error {
    const tail = this.stderrTail.length ? `\n  stderr:\n    ${this.stderrTail.join("\n    ")}` : "";
    return new Error(`${this.label} ${what}${tail}`);
  }

  /** The first stdout line (past or future) for which `pick` returns a value. */
  waitForLine<T>(pick: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolveLine, reject) => {
      let seen = 0;
      const waiter = {
        check: () => {
          for (; seen < this.stdoutLines.length; seen++) {
            const v = pick(this.stdoutLines[seen] as string);
            if (v !== undefined) {
              done();
              resolveLine(v);
              return true;
            }
          }
          return false;
        },
        fail: (err: Error) => {
          done();
          reject(err);
        },
      };
      const timer = setTimeout(
        () => waiter.fail(this.failure(`gave no ${what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      if (waiter.check()) return;
      if (!this.running) waiter.fail(this.failure("had already exited"));
    });
  }

  /** The JSON after RESULT_PREFIX on stdout. */
  result<T>(timeoutMs: number): Promise<T> {
    return this.waitForLine(
      (line) =>
        line.startsWith(RESULT_PREFIX) ? (JSON.parse(line.slice(RESULT_PREFIX.length)) as T) : undefined,
      timeoutMs,
      "result",
    );
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

async function cleanup(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop()));
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
  tempRoot = undefined;
}

// Last resort (process.exit from anywhere): synchronous, so only kill and delete.
process.on("exit", () => {
  for (const c of children) c.proc.kill("SIGKILL");
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the child processes`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Servers

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

interface Sipext {
  child: Child;
  origin: string;
  /** The first-run admin password, when this start printed it. */
  printedPassword?: string;
}

async function startSipext(label: string, dataDir: string, expectFirstRun: boolean): Promise<Sipext> {
  // With SIPEXT_LOG_LEVEL=warn the "listening" line (and its httpPort) is not logged: pick the port.
  const port = await freePort();
  const child = new Child(
    label,
    ["src/cli/main.ts", "serve"],
    childEnv({
      SIPEXT_DATA_DIR: dataDir,
      SIPEXT_HTTP_HOST: "127.0.0.1",
      SIPEXT_HTTP_PORT: String(port),
      SIPEXT_SIP_HOST: "127.0.0.1",
      SIPEXT_SIP_PORT: "0",
      SIPEXT_LOG_LEVEL: "warn",
      SIPEXT_ADMIN_USERNAME: "admin",
    }),
  );
  const origin = `http://127.0.0.1:${port}`;
  let printedPassword: string | undefined;
  if (expectFirstRun) {
    // The first-run block is printed after the server listens.
    printedPassword = await child.waitForLine(
      (line) => /^\s*password:\s+(\S+)\s*$/.exec(line)?.[1],
      30_000,
      "first-run password",
    );
  }
  await within(30_000, `${label} start`, waitUntilListening(origin, child));
  return { child, origin, ...(printedPassword ? { printedPassword } : {}) };
}

async function waitUntilListening(origin: string, child: Child): Promise<void> {
  for (;;) {
    if (!child.running) throw child.failure("exited during start-up");
    try {
      await fetch(`${origin}/openapi.json`, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function startBare(): Promise<{ child: Child; origin: string }> {
  const child = new Child("bare", ["bench/api/bare.ts"], childEnv({}));
  const port = await child.waitForLine(
    (line) => {
      try {
        const v = JSON.parse(line) as { httpPort?: unknown };
        return typeof v.httpPort === "number" ? v.httpPort : undefined;
      } catch {
        return undefined;
      }
    },
    30_000,
    "httpPort line",
  );
  return { child, origin: `http://127.0.0.1:${port}` };
}

// ---------------------------------------------------------------------------------------------
// HTTP set-up calls (not measured)

async function call<T>(
  origin: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${origin}${path}`, {
    method,
    headers,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function login(origin: string, password: string): Promise<string> {
  const r = await call<{ token: string }>(origin, "POST", "/auth/login", {
    body: { username: "admin", password },
  });
  return r.token;
}

interface ExtensionJson {
  id: string;
  extension: string;
  tm_create: string;
}

interface PageJson {
  result: ExtensionJson[];
  next_page_token: string;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`sanity check failed: ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Load

/** A server under load: where to send requests, and its process (for its CPU time). */
interface Target {
  origin: string;
  pid: number | undefined;
}

/** A measurement, plus the server's CPU time (user + system) per request while it ran. */
interface Measured extends LoadResult {
  /** Microseconds of server CPU per request: unlike req/s, barely moved by other load on the machine. */
  cpuUs: number | undefined;
}

let clockTicks: number | undefined;

/** The CPU time (user + system, all threads) a process has used, in µs; undefined off Linux. */
function cpuMicros(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 5_000 })) || 100;
    // /proc/PID/stat: "pid (comm) state ppid …"; utime and stime are fields 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / clockTicks;
  } catch {
    return undefined;
  }
}

let loadRuns = 0;

async function load(
  label: string,
  target: Target,
  spec: Omit<LoadSpec, "origin" | "connections" | "warmup" | "duration">,
): Promise<Measured> {
  const full: LoadSpec = {
    ...spec,
    origin: target.origin,
    connections: opts.connections,
    warmup: opts.warmup,
    duration: opts.duration,
  };
  loadRuns += 1;
  log(`  ${label}: ${spec.method} ${spec.path.slice(0, 90)} (${opts.warmup}+${opts.duration} s)`);
  const child = new Child(
    `autocannon#${loadRuns}`,
    ["bench/api/load.ts", JSON.stringify(full)],
    childEnv({}),
  );
  try {
    const limit = (opts.warmup + opts.duration + 60) * 1000;
    // Sampled from the line handlers themselves, so that no await sits between line and sample.
    const cpuStart = child.waitForLine(
      (line) => (line === MEASURING_LINE ? { us: cpuMicros(target.pid) } : undefined),
      limit,
      "end of warm-up",
    );
    const done = child.waitForLine(
      (line) =>
        line.startsWith(RESULT_PREFIX)
          ? { r: JSON.parse(line.slice(RESULT_PREFIX.length)) as LoadResult, us: cpuMicros(target.pid) }
          : undefined,
      limit,
      "result",
    );
    const [start, end] = await Promise.all([cpuStart, done]);
    await within(10_000, "autocannon exit", child.exited);
    const r = end.r;
    if (r.errors > 0 || r.timeouts > 0 || r.non2xx > 0 || r.total === 0) {
      throw new Error(
        `${label} ${spec.method} ${spec.path}: ${r.total} responses, ${r.errors} errors, ${r.timeouts} timeouts, ` +
          `status codes ${JSON.stringify(r.statusCodes)}: the figures would be meaningless`,
      );
    }
    const cpuUs =
      start.us !== undefined && end.us !== undefined && r.total > 0
        ? (end.us - start.us) / r.total
        : undefined;
    log(
      `    ${fmtRps(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.total} requests` +
        (cpuUs !== undefined ? `, server CPU ${cpuUs.toFixed(1)} µs/request` : ""),
    );
    return { ...r, cpuUs };
  } finally {
    await child.stop();
  }
}

interface Pair {
  name: string;
  sipext: Measured;
  bare: Measured;
}

/** The bare route right before sipext, same request bytes, so both see the same machine state. */
async function pair(
  name: string,
  bare: Target,
  sipext: Target,
  spec: Omit<LoadSpec, "origin" | "connections" | "warmup" | "duration">,
  uniquePrefix?: string,
): Promise<Pair> {
  log(name);
  const b = await load("bare", bare, {
    ...spec,
    ...(uniquePrefix ? { uniqueExtensionPrefix: `${uniquePrefix}b` } : {}),
  });
  const s = await load("sipext", sipext, {
    ...spec,
    ...(uniquePrefix ? { uniqueExtensionPrefix: `${uniquePrefix}s` } : {}),
  });
  return { name, sipext: s, bare: b };
}

// ---------------------------------------------------------------------------------------------
// Report

const fmtRps = (n: number) => Math.round(n).toLocaleString("en-US");
const fmtMs = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));
const fmtUs = (n: number | undefined) => (n === undefined ? "n/a" : n.toFixed(0));
const pct = (n: number) => `${(n * 100).toFixed(0)}%`;
const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : "n/a";

interface Machine {
  date: string;
  nproc: string;
  model: string;
  ramGiB: string;
  node: string;
  loadBefore: string;
}

function machine(): Machine {
  const run = (cmd: string, a: string[]) => {
    try {
      return execFileSync(cmd, a, { encoding: "utf8", timeout: 5_000 }).trim();
    } catch {
      return "";
    }
  };
  let model = cpus()[0]?.model ?? "unknown";
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? model;
  } catch {
    // not Linux: os.cpus() it is
  }
  return {
    date: run("date", ["-u"]) || new Date().toUTCString(),
    nproc: run("nproc", []) || String(cpus().length),
    model,
    ramGiB: (totalmem() / 1024 ** 3).toFixed(1),
    node: process.version,
    loadBefore: loadavg()
      .map((n) => n.toFixed(2))
      .join(" "),
  };
}

interface Paging {
  seeded: number;
  seedSeconds: number;
  deepPage: number;
  first: Measured;
  deep: Measured;
}

function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  if (!head) return "";
  const line = (r: string[]) => `| ${r.join(" | ")} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? "---" : "---:"))), ...body.map(line)].join("\n");
}

function textTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r, n) => {
      const text = r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
        .join("  ");
      return n === 0 ? `${text}\n${"-".repeat(text.length)}` : text;
    })
    .join("\n");
}

function report(pairs: Pair[], paging: Paging) {
  const apiRows = [
    [
      "benchmark",
      "sipext req/s",
      "bare req/s",
      "req/s vs bare",
      "sipext p99 ms",
      "bare p99 ms",
      "p99 vs bare",
      "sipext CPU µs/req",
      "bare CPU µs/req",
      "CPU vs bare",
    ],
    ...pairs.map((p) => [
      p.name,
      fmtRps(p.sipext.rps),
      fmtRps(p.bare.rps),
      pct(p.sipext.rps / p.bare.rps),
      fmtMs(p.sipext.p99),
      fmtMs(p.bare.p99),
      ratio(p.sipext.p99, p.bare.p99),
      fmtUs(p.sipext.cpuUs),
      fmtUs(p.bare.cpuUs),
      ratio(p.sipext.cpuUs, p.bare.cpuUs),
    ]),
  ];
  const pagingRows = [
    ["page (page_size=100)", "req/s", "p50 ms", "p99 ms", "p99 vs first page", "CPU µs/req"],
    [
      "first page",
      fmtRps(paging.first.rps),
      fmtMs(paging.first.p50),
      fmtMs(paging.first.p99),
      "1.00×",
      fmtUs(paging.first.cpuUs),
    ],
    [
      `page ${paging.deepPage.toLocaleString("en-US")}`,
      fmtRps(paging.deep.rps),
      fmtMs(paging.deep.p50),
      fmtMs(paging.deep.p99),
      ratio(paging.deep.p99, paging.first.p99),
      fmtUs(paging.deep.cpuUs),
    ],
  ];
  const getById = pairs[0];
  const byIdShare = getById ? getById.sipext.rps / getById.bare.rps : 0;
  const deepRatio = paging.first.p99 > 0 ? paging.deep.p99 / paging.first.p99 : Number.POSITIVE_INFINITY;
  const targets = [
    ["target", "measured", "verdict"],
    [
      "GET /v1.0/extensions/{id} ≥ 50% of the bare route's req/s",
      pct(byIdShare),
      byIdShare >= 0.5 ? "met" : "MISSED",
    ],
    [
      `page ${paging.deepPage.toLocaleString("en-US")} p99 within 2× of the first page's p99`,
      ratio(paging.deep.p99, paging.first.p99),
      deepRatio <= 2 ? "met" : "MISSED",
    ],
  ];
  return { apiRows, pagingRows, targets };
}

function markdownSection(m: Machine, pairs: Pair[], paging: Paging): string {
  const { apiRows, pagingRows, targets } = report(pairs, paging);
  return [
    SECTION_BEGIN,
    "## REST API (`npm run bench:api`)",
    "",
    `- Command: \`${commandLine}\` (${opts.duration} s measured after ${opts.warmup} s of warm-up per figure, ` +
      `${opts.connections} connections, no pipelining)`,
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.model}, ${m.ramGiB} GiB RAM, Node ${m.node}; ` +
      `load average before the run: ${m.loadBefore}`,
    "- Set-up: the sipext server (`src/cli/main.ts serve`, embedded SQLite in a fresh temp data dir, " +
      "`SIPEXT_LOG_LEVEL=warn`, JWT from `POST /auth/login`), the bare reference (a Fastify 5 route " +
      "answering the same method and path with one fixed extension-shaped JSON object, no auth, no " +
      "database) and autocannon 8 each run in their own process on the same machine. The bare route is " +
      "measured right before each sipext figure with the same request bytes; ratios are sipext / bare " +
      "from that same run. Absolute numbers depend on the machine; the ratios are what to compare.",
    "- Columns: req/s is autocannon's mean over the measured seconds; p99 is its latency percentile " +
      "(whole milliseconds); CPU µs/req is the server process's user + system CPU time over the measured " +
      "seconds divided by the responses, which other load on the machine moves much less than req/s.",
    "",
    markdownTable(apiRows),
    "",
    `GET by id reads one of ${opts.setupExtensions} extensions; the list returns a full page of 100 ` +
      "(the bare route returns one object, so that ratio includes the cost of 99 more items); every POST " +
      "creates a distinct extension (a fresh `extension` per request).",
    "",
    `### Paging with ${paging.seeded.toLocaleString("en-US")} extensions in one customer`,
    "",
    `Seeded through the services in a separate process in ${paging.seedSeconds.toFixed(1)} s, before the server ` +
      `started. The page-${paging.deepPage.toLocaleString("en-US")} token is the \`tm_create\` of the ` +
      `${((paging.deepPage - 1) * PAGE_SIZE).toLocaleString("en-US")}th newest extension (read from the SQLite file).`,
    "",
    markdownTable(pagingRows),
    "",
    "### Targets",
    "",
    markdownTable(targets),
    SECTION_END,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// The run

async function apiBenchmarks(bare: Target): Promise<Pair[]> {
  const dataDir = join(tempRoot as string, "api");
  log(`starting sipext on a fresh data dir (${dataDir})`);
  const server = await startSipext("sipext", dataDir, true);
  try {
    const token = await login(server.origin, server.printedPassword as string);
    log(`logged in; creating ${opts.setupExtensions} extensions through the API`);
    let some: ExtensionJson | undefined;
    for (let i = 0; i < opts.setupExtensions; i++) {
      some = await call<ExtensionJson>(server.origin, "POST", "/v1.0/extensions", {
        token,
        body: { name: `setup ${i}`, detail: "bench", extension: `setup-${i}`, password: "setup-Passw0rd" },
      });
    }
    if (!some) throw new Error("no extension created");
    const byId = `/v1.0/extensions/${some.id}`;
    const list = `/v1.0/extensions?page_size=${PAGE_SIZE}`;
    check((await call<ExtensionJson>(server.origin, "GET", byId, { token })).id === some.id, "GET by id");
    check(
      (await call<PageJson>(server.origin, "GET", list, { token })).result.length === PAGE_SIZE,
      "full page",
    );

    const headers = { authorization: `Bearer ${token}` };
    const sipext: Target = { origin: server.origin, pid: server.child.proc.pid };
    const run = Math.random().toString(36).slice(2, 7);
    return [
      await pair("GET /v1.0/extensions/{id}", bare, sipext, {
        method: "GET",
        path: byId,
        headers,
      }),
      await pair("GET /v1.0/extensions (100)", bare, sipext, {
        method: "GET",
        path: list,
        headers,
      }),
      await pair(
        "POST /v1.0/extensions",
        bare,
        sipext,
        {
          method: "POST",
          path: "/v1.0/extensions",
          headers,
          body: { name: "bench", detail: "autocannon", extension: "", password: "bench-Passw0rd" },
        },
        `p${run}`,
      ),
    ];
  } finally {
    await server.child.stop();
  }
}

async function pagingBenchmark(): Promise<Paging> {
  const dataDir = join(tempRoot as string, "paging");
  const count = opts.seedCount;
  log(`seeding ${count.toLocaleString("en-US")} extensions in one customer through the services`);
  const seeder = new Child(
    "seed",
    ["bench/api/seed.ts", String(count)],
    childEnv({ SIPEXT_DATA_DIR: dataDir }),
    true,
  );
  let seed: SeedResult;
  try {
    seed = await seeder.result<SeedResult>(Math.max(120, count / 250) * 1000);
    await within(30_000, "seed exit", seeder.exited);
  } finally {
    await seeder.stop();
  }
  log(`  seeded in ${seed.seconds.toFixed(1)} s (${fmtRps(count / seed.seconds)}/s)`);

  // The token of page N is the tm_create of the (N-1)*100th newest live extension.
  const offset = (opts.deepPage - 1) * PAGE_SIZE;
  const sqlite = new SQLite(join(dataDir, "sipext.sqlite"), { readonly: true, fileMustExist: true });
  let deepToken: string;
  try {
    const row = sqlite
      .prepare(
        "SELECT tm_create FROM extensions WHERE customer_id = ? AND tm_delete IS NULL " +
          "ORDER BY tm_create DESC LIMIT 1 OFFSET ?",
      )
      .get(seed.customerId, offset - 1) as { tm_create: string } | undefined;
    if (!row) throw new Error(`fewer than ${offset} extensions were seeded`);
    deepToken = row.tm_create;
  } finally {
    sqlite.close();
  }

  log("starting sipext on the seeded data dir");
  const server = await startSipext("sipext-paging", dataDir, false);
  try {
    const token = await login(server.origin, seed.password);
    const first = `/v1.0/extensions?page_size=${PAGE_SIZE}`;
    const deep = `${first}&page_token=${encodeURIComponent(deepToken)}`;
    // Newest first, created in order seed-0 … seed-(count-1): page N starts at seed-(count-1-offset).
    const p1 = await call<PageJson>(server.origin, "GET", first, { token });
    check(p1.result.length === PAGE_SIZE && p1.result[0]?.extension === `seed-${count - 1}`, "first page");
    const pd = await call<PageJson>(server.origin, "GET", deep, { token });
    check(
      pd.result.length === PAGE_SIZE && pd.result[0]?.extension === `seed-${count - 1 - offset}`,
      `page ${opts.deepPage} starts at seed-${count - 1 - offset}`,
    );

    log(`paging: first page vs page ${opts.deepPage}`);
    const headers = { authorization: `Bearer ${token}` };
    const target: Target = { origin: server.origin, pid: server.child.proc.pid };
    const firstResult = await load("sipext", target, { method: "GET", path: first, headers });
    const deepResult = await load("sipext", target, { method: "GET", path: deep, headers });
    return {
      seeded: count,
      seedSeconds: seed.seconds,
      deepPage: opts.deepPage,
      first: firstResult,
      deep: deepResult,
    };
  } finally {
    await server.child.stop();
  }
}

async function main(): Promise<void> {
  const m = machine();
  log(
    `${commandLine}: ${opts.duration} s per figure after ${opts.warmup} s warm-up, ${opts.connections} connections` +
      `${quick ? " (quick)" : ""}`,
  );
  log(`machine: ${m.nproc} CPUs, ${m.model}, ${m.ramGiB} GiB, Node ${m.node}, load average ${m.loadBefore}`);
  tempRoot = mkdtempSync(join(tmpdir(), "sipext-bench-"));

  const bare = await startBare();
  const pairs = await apiBenchmarks({ origin: bare.origin, pid: bare.child.proc.pid });
  await bare.child.stop();
  const paging = await pagingBenchmark();

  const { apiRows, pagingRows, targets } = report(pairs, paging);
  process.stdout.write(
    [
      "",
      `sipext REST API vs a bare Fastify route — ${m.date}`,
      `${m.nproc} CPUs, ${m.model}, ${m.ramGiB} GiB RAM, Node ${m.node}`,
      `${opts.duration} s per figure, ${opts.warmup} s warm-up, ${opts.connections} connections; ` +
        "CPU µs/req = server CPU time (user + system) per response",
      "",
      textTable(apiRows),
      "",
      `paging, ${paging.seeded.toLocaleString("en-US")} extensions in one customer`,
      textTable(pagingRows),
      "",
      textTable(targets),
      "",
    ].join("\n"),
  );
  if (opts.write) {
    writeBenchmarkSection(BENCHMARKS_MD, "api", markdownSection(m, pairs, paging));
    log(`updated ${BENCHMARKS_MD}`);
  } else {
    log("BENCHMARKS.md left alone (--quick or --no-write; --write to record)");
  }
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  await cleanup();
  process.exit(1);
}
