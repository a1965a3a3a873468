// `npm run bench:calls [-- options]`
//
// Calls through sipext's SIP proxy against Kamailio 5.6 as the same kind of proxy
// (bench/calls/kamailio-proxy.cfg), in one run, with the same SIPp options:
//   1. seeds the user set of /work/shared/bench/kamailio/users.awk into sipext (seed.ts, in its
//      own process) and into a Kamailio subscriber table (SQLite);
//   2. Kamailio: starts it, registers every callee from the callee SIPp's port (REGISTER → 401 →
//      REGISTER with digest → 200), starts the callee SIPp (sipp_uas.xml) on that port and ramps
//      the call rate of the caller SIPp (sipp_uac.xml) step by step, as run.sh ramps registrations;
//   3. sipext: the same;
//   4. latency at half of sipext's highest rate: INVITE → 200 at the caller, straight to the
//      callee and through each proxy, timed from a packet capture (pcap.ts);
//   5. prints both rates, their ratio, CPU, memory and latency, and rewrites its section of
//      BENCHMARKS.md.
// What sipext is called at, and Kamailio: see --help (--auth) and BENCHMARKS.md.
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { sectionMarkers, writeBenchmarkSection } from "../benchmarks-md.js";
import { cpuProfArgs, formatSummary, keepProfile, summarize } from "../cpuprofile-top.js";
import { type Machine, machine, wholeOption } from "../machine.js";
import {
  alive,
  ancestors,
  bounded,
  Child,
  descendants,
  HZ,
  logger,
  machineBusy,
  machineJiffies,
  otherLoad,
  portFree,
  reapedChildTicks,
  sh,
  shellQuote,
  sleep,
  stopAllChildren,
  stopChildrenOnExit,
  treeMemKb,
  treeTicks,
  within,
} from "../proc.js";
import { DOMAINS, domainOf, passwordOf, REGISTRAR_DOMAIN, tenantOf, USERS, userOf } from "../user-set.js";
import { type CaptureTimes, inviteTo200, quantile } from "./pcap.js";
import { DIRECT_DOMAIN, RESULT_PREFIX, type SeedResult } from "./protocol.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const DEFAULT_BENCHMARKS_MD = join(ROOT, "BENCHMARKS.md");
const { begin: SECTION_BEGIN, end: SECTION_END } = sectionMarkers("calls");
const log = logger("bench:calls");
const RATIO_TARGET = 0.5;
/** pids of long-lived children of a run, to stop them when a killed run left them behind */
const STATE_FILE = "/var/tmp/sipext-bench-calls.pids";

// ---------------------------------------------------------------------------------------------
// Options

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rates: { type: "string" },
    duration: { type: "string" },
    refine: { type: "string" },
    transport: { type: "string" },
    auth: { type: "boolean", default: false },
    hold: { type: "string" },
    users: { type: "string" },
    "latency-duration": { type: "string" },
    "latency-rate": { type: "string" },
    children: { type: "string" },
    "kam-args": { type: "string" },
    shm: { type: "string" },
    "no-install": { type: "boolean", default: false },
    "skip-kamailio": { type: "boolean", default: false },
    "skip-sipext": { type: "boolean", default: false },
    "skip-latency": { type: "boolean", default: false },
    "wait-idle": { type: "boolean" },
    "no-wait-idle": { type: "boolean" },
    ports: { type: "string" },
    keep: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    write: { type: "boolean" },
    "no-write": { type: "boolean" },
    "benchmarks-md": { type: "string" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});

const DEFAULT_RATES = "500 1000 1500 2000 2500 3000 4000 5000 6000 7000 8000 9000 10000 12000 14000 16000";

if (args.help) {
  process.stdout.write(
    [
      "usage: npm run bench:calls -- [options]",
      `  --rates "R1 R2 ..."   ramp steps, calls/s (default "${DEFAULT_RATES}")`,
      "  --duration S          seconds per step (default 20)",
      "  --refine N            bisection steps between last pass and first fail (default 2)",
      "  --transport u1|t1     SIPp over UDP (one socket each), or TCP (one connection each) (default u1)",
      "  --auth                authenticated calls on both: sipext's extension address sip:userN@<domain>",
      "                        (407, caller = another extension of the customer) and Kamailio with",
      "                        proxy_authorize; default: no authentication on either (sipext's public",
      "                        direct address sip:direct.<hash>@<direct domain>, Kamailio lookup+relay)",
      "  --hold MS             pause between the caller's ACK and its BYE (SIPp -d; default 0)",
      "  --users N             callees (default 10000, in 10 domains as users.awk)",
      "  --latency-duration S  seconds of each latency measurement (default: --duration)",
      "  --latency-rate R      calls/s of the latency measurements (default: half of sipext's highest)",
      "  --children N          Kamailio UDP and TCP worker processes (default 4, as run.sh)",
      '  --kam-args "..."      extra kamailio arguments (default "-x tlsf", as run.sh)',
      "  --shm MB              Kamailio shared memory (default 4096: tm keeps each transaction 5 s",
      "                        after its final reply, 70,000 of them at 7,000 calls/s; 512 ran out at 4,000)",
      "  --ports K,S,UAS,UAC   Kamailio, sipext, callee SIPp, caller SIPp ports (default 5270,5290,5282,5281)",
      '  --quick               smoke run: 500 users, --rates "100 200 400" --duration 4 --refine 0,',
      "                        no idle wait, BENCHMARKS.md left alone (unless --write)",
      "  --wait-idle | --no-wait-idle  wait (≤ 15 min) for a 1-minute load average < 1.0 held for",
      "                        a minute before measuring (default: on, off with --quick)",
      "  --no-install          do not apt-get kamailio, sip-tester, sqlite3, tcpdump when missing",
      "  --skip-kamailio | --skip-sipext | --skip-latency   leave a part out",
      "  --profile             run sipext under `node --cpu-prof` and print its top self-time functions",
      "  --keep                keep the temp dir (data, CSVs, SIPp statistics and error logs, captures)",
      "  --write | --no-write  update BENCHMARKS.md or not (default: write unless --quick, --profile or a part skipped)",
      "  --benchmarks-md FILE  the file to write the section into (default: the repository's BENCHMARKS.md)",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

const quick = args.quick;
const ratesText = (args.rates ?? (quick ? "100 200 400" : DEFAULT_RATES)).trim();
if (!/^\d+(\s+\d+)*$/.test(ratesText) || /(^|\s)0+(\s|$)/.test(ratesText))
  throw new Error('--rates must be positive whole numbers separated by spaces, e.g. "500 1000 1500"');
const rates = ratesText.split(/\s+/).map(Number);
const duration = wholeOption("duration", args.duration, 1) ?? (quick ? 4 : 20);
const refine = wholeOption("refine", args.refine, 0) ?? (quick ? 0 : 2);
const transport = args.transport ?? "u1";
if (transport !== "u1" && transport !== "t1") throw new Error("--transport must be u1 or t1");
const users = wholeOption("users", args.users, DOMAINS) ?? (quick ? 500 : USERS);
const latencyDuration = wholeOption("latency-duration", args["latency-duration"], 1) ?? duration;
const latencyRateOpt = wholeOption("latency-rate", args["latency-rate"], 1);
const kamChildren = wholeOption("children", args.children, 1) ?? 4;
const kamArgs = (args["kam-args"] ?? "-x tlsf").split(/\s+/).filter(Boolean);
const shmMb = wholeOption("shm", args.shm, 64) ?? 4096;
const auth = args.auth;
const hold = wholeOption("hold", args.hold, 0) ?? 0;
const portList = (args.ports ?? "5270,5290,5282,5281").split(",").map((p) => Number(p));
if (portList.length !== 4 || portList.some((p) => !Number.isInteger(p) || p < 1024 || p > 65535))
  throw new Error("--ports takes four ports from 1024 to 65535: Kamailio,sipext,callee,caller");
const [KAM_PORT, SIPEXT_PORT, UAS_PORT, UAC_PORT] = portList as [number, number, number, number];
const waitIdle = args["no-wait-idle"] ? false : (args["wait-idle"] ?? !quick);
const partial = args["skip-kamailio"] || args["skip-sipext"] || args["skip-latency"];
const BENCHMARKS_MD = resolve(args["benchmarks-md"] ?? DEFAULT_BENCHMARKS_MD);
const write = args["no-write"] ? false : (args.write ?? (!quick && !partial && !args.profile));
const sippTransport = transport;
const REGISTER_RATE = quick ? 500 : 1000;

/** SIPp options of every call step, identical for both proxies (and the latency baselines). */
const SIPP_CALL_OPTIONS = [
  "-t",
  sippTransport,
  "-d",
  String(hold),
  "-max_non_invite_retrans",
  "5",
  "-buff_size",
  "1048576",
];

const commandLine = [
  "npm run bench:calls",
  ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2).map(shellQuote)] : []),
].join(" ");

// ---------------------------------------------------------------------------------------------
// Exit paths: every child is stopped, the temp dir removed (unless --keep).

let tempRoot: string | undefined;

let stopping = false;

async function cleanup(): Promise<void> {
  stopping = true;
  await stopAllChildren();
  if (tempRoot) {
    const mark = tempRoot;
    const others = readState().filter((e) => e.mark !== mark);
    if (others.length) writeFileSync(STATE_FILE, `${JSON.stringify(others)}\n`);
    else rmSync(STATE_FILE, { force: true });
  }
  if (tempRoot && !args.keep) rmSync(tempRoot, { recursive: true, force: true });
  tempRoot = undefined;
}

stopChildrenOnExit(log, cleanup, () => {
  if (tempRoot && !args.keep) rmSync(tempRoot, { recursive: true, force: true });
});

/** Records a long-lived child (pid + a string its command line holds) for the next run's clean-up. */
function remember(child: Child): void {
  if (!tempRoot) return;
  const entries = readState();
  entries.push({ pid: child.pid, mark: tempRoot });
  for (const d of descendants(child.pid)) entries.push({ pid: d, mark: tempRoot });
  writeFileSync(STATE_FILE, `${JSON.stringify(entries.filter((e) => alive(e.pid)))}\n`);
}

function readState(): Array<{ pid: number; mark: string }> {
  try {
    return JSON.parse(readFileSync(STATE_FILE, "utf8")) as Array<{ pid: number; mark: string }>;
  } catch {
    return [];
  }
}

/** Stops what an earlier run that was killed left running: by pid, only when its command line is ours. */
async function stopLeftovers(): Promise<void> {
  const left = readState().filter((e) => {
    try {
      return readFileSync(`/proc/${e.pid}/cmdline`, "utf8").includes(e.mark);
    } catch {
      return false;
    }
  });
  for (const e of left) {
    log(`stopping pid ${e.pid}, left running by an earlier run`);
    try {
      process.kill(e.pid, "SIGTERM");
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && left.some((e) => alive(e.pid))) await sleep(200);
  for (const e of left) {
    try {
      if (alive(e.pid)) process.kill(e.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  // and the temp dirs of those runs
  for (const mark of new Set(readState().map((e) => e.mark))) {
    if (mark.startsWith(join(tmpdir(), "sipext-bench-calls-")))
      rmSync(mark, { recursive: true, force: true });
  }
  rmSync(STATE_FILE, { force: true });
}

// ---------------------------------------------------------------------------------------------
// The machine

const loadText = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");

/** Other benchmarks and test runs on the machine (their command lines), not ours. */
function otherBenchmarks(): string[] {
  const ours = new Set([process.pid, ...descendants(process.pid), ...ancestors(process.pid)]);
  const out: string[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || ours.has(Number(name))) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      if (
        /bench\/(sip|api|calls)\/run\.ts|shared\/bench\/kamailio\/run\.sh|vitest/.test(cmd) &&
        !/^(sh|bash) -c /.test(cmd)
      )
        out.push(`${name} ${cmd.slice(0, 120)}`);
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Waits (≤ 15 min) for the 1-minute load average to stay < 1.0 for a whole minute with no other
 * benchmark or test run on the machine.
 */
async function waitForIdle(): Promise<{ waitedS: number; idle: boolean }> {
  const started = Date.now();
  let quietSince: number | undefined;
  let said = false;
  while (Date.now() - started < 15 * 60_000) {
    const one = loadavg()[0] ?? 0;
    const others = otherBenchmarks();
    if (one < 1.0 && others.length === 0) {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= 60_000) return { waitedS: (Date.now() - started) / 1000, idle: true };
    } else {
      quietSince = undefined;
      if (!said) {
        log(`waiting (up to 15 min) for the machine to be idle: load average ${loadText()}`);
        for (const l of others) log(`  running: ${l}`);
        for (const l of otherLoad()) log(`  busy: ${l}`);
        said = true;
      }
    }
    await sleep(5_000);
  }
  log(`WARNING: the machine did not become idle in 15 min (load average ${loadText()}); measuring anyway`);
  return { waitedS: (Date.now() - started) / 1000, idle: false };
}

/** Before a step: waits (≤ 120 s) until the machine is < 10 % busy, as run.sh does. */
async function waitQuiet(): Promise<{ busy: number; warned: boolean }> {
  let v = 0;
  for (let i = 0; i < 40; i++) {
    v = await machineBusy();
    if (v < 10) return { busy: v, warned: false };
    if (i === 0) log(`machine ${v} % busy before a step; waiting up to 120 s`);
  }
  log(`WARNING: machine still ${v} % busy; measuring anyway`);
  return { busy: v, warned: true };
}

// ---------------------------------------------------------------------------------------------
// Installation (apt), as run.sh does it: never let the package start a system Kamailio.

function install(): void {
  const wanted = ["kamailio", "kamailio-sqlite-modules", "sip-tester", "sqlite3", "tcpdump", "util-linux"];
  const missing = wanted.filter(
    (p) => !/install ok installed/.test(sh("dpkg-query", ["-W", "-f=${Status}", p])),
  );
  if (missing.length === 0) return;
  if (args["no-install"]) throw new Error(`missing packages (--no-install): ${missing.join(" ")}`);
  log(`installing (apt): ${missing.join(" ")}`);
  let madePolicy = false;
  if (!existsSync("/usr/sbin/policy-rc.d")) {
    writeFileSync("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    madePolicy = true;
  }
  try {
    const update = sh("timeout", ["300", "apt-get", "update"], 310_000);
    const r = sh(
      "timeout",
      ["600", "apt-get", "install", "-y", "--no-install-recommends", ...missing],
      610_000,
    );
    const still = missing.filter(
      (p) => !/install ok installed/.test(sh("dpkg-query", ["-W", "-f=${Status}", p])),
    );
    if (still.length)
      throw new Error(`apt-get could not install ${still.join(" ")}:\n${update}\n${r}`.slice(-3000));
  } finally {
    if (madePolicy) rmSync("/usr/sbin/policy-rc.d", { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The user set: SIPp injection files and Kamailio's subscriber table

interface Files {
  /** REGISTER: user;domain;password (every callee) */
  register: string;
  /** calls to Kamailio: Request-URI user;host (+ caller;password with --auth) */
  kamCallees: string;
  /** calls to sipext (direct addresses, or extension addresses with --auth) */
  sipextCallees: string;
  /** calls straight to the callee SIPp (latency baseline): as kamCallees */
  directCallees: string;
}

/** With --auth, user n is called by another extension of its customer: n + D (wrapping round). */
const callerOf = (n: number) => ((n - 1 + DOMAINS) % users) + 1;

function writeUserFiles(dir: string, sipextDirectCsv: string | undefined): Files {
  const reg = ["SEQUENTIAL"];
  const kam = ["SEQUENTIAL"];
  for (let n = 1; n <= users; n++) {
    const d = domainOf(tenantOf(n));
    reg.push(`${userOf(n)};${d};${passwordOf(n)}`);
    const c = callerOf(n);
    kam.push(auth ? `${userOf(n)};${d};${userOf(c)};${passwordOf(c)}` : `${userOf(n)};${d}`);
  }
  const files: Files = {
    register: join(dir, "register.csv"),
    kamCallees: join(dir, "callees-kamailio.csv"),
    sipextCallees: auth || !sipextDirectCsv ? join(dir, "callees-kamailio.csv") : sipextDirectCsv,
    directCallees: join(dir, "callees-kamailio.csv"),
  };
  writeFileSync(files.register, `${reg.join("\n")}\n`);
  writeFileSync(files.kamCallees, `${kam.join("\n")}\n`);
  return files;
}

/** Kamailio 5.6's `version` + `subscriber` schema (the package's SQL) and the users, plaintext. */
function seedKamailio(db: string): void {
  const schema = "/usr/share/kamailio/db_sqlite";
  const sql = [
    readFileSync(join(schema, "standard-create.sql"), "utf8"),
    readFileSync(join(schema, "auth_db-create.sql"), "utf8"),
    "BEGIN TRANSACTION;",
  ];
  for (let n = 1; n <= users; n++)
    sql.push(
      `INSERT INTO subscriber (username, domain, password) VALUES ('${userOf(n)}','${domainOf(tenantOf(n))}','${passwordOf(n)}');`,
    );
  sql.push("COMMIT;");
  rmSync(db, { force: true });
  const r = spawnSyncSqlite(db, sql.join("\n"));
  const count = sh("sqlite3", [db, "select count(*) from subscriber"]);
  if (Number(count) !== users)
    throw new Error(`Kamailio subscriber table: ${count} rows, wanted ${users}\n${r}`);
}

function spawnSyncSqlite(db: string, input: string): string {
  const r = spawnSync("sqlite3", [db], { input, encoding: "utf8", timeout: 120_000 });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`;
}

// ---------------------------------------------------------------------------------------------
// The proxies

interface Proxy {
  label: string;
  port: number;
  child: Child;
  /** the process tree whose CPU and memory are measured */
  pid: number;
  callees: string;
}

/** Sends one OPTIONS over UDP and resolves with the reply's first line (undefined on timeout). */
function optionsPing(port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolveReply) => {
    const s = createSocket("udp4");
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      s.close();
      resolveReply(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    s.on("message", (msg) => done(msg.toString("latin1").split("\r\n")[0]));
    s.on("error", () => done(undefined));
    s.bind(0, "127.0.0.1", () => {
      const lp = s.address().port;
      const id = `${Date.now()}${Math.random().toString(16).slice(2)}`;
      s.send(
        [
          `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${lp};branch=z9hG4bK${id};rport`,
          "Max-Forwards: 70",
          `From: <sip:bench@127.0.0.1>;tag=${id.slice(0, 8)}`,
          `To: <sip:127.0.0.1:${port}>`,
          `Call-ID: ${id}@bench-calls`,
          "CSeq: 1 OPTIONS",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n"),
        port,
        "127.0.0.1",
      );
    });
  });
}

async function waitForSip(child: Child, port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!child.running) throw child.failure("exited during start-up");
    if (Date.now() > deadline) throw child.failure("did not answer SIP OPTIONS within 60 s");
    if ((await optionsPing(port, 500))?.startsWith("SIP/2.0 200")) return;
    await sleep(200);
  }
}

/** Upper bound of one proxy phase (ramp + latency), seconds. */
function phaseBoundS(): number {
  const perStep = 125 + duration + 45 + 5;
  return (rates.length + refine) * perStep + 2 * (125 + latencyDuration + 45) + 900;
}

async function startKamailio(dir: string): Promise<Proxy> {
  mkdirSync(dir, { recursive: true });
  const db = join(dir, "subscribers.sqlite");
  seedKamailio(db);
  const cfg = join(HERE, "kamailio-proxy.cfg");
  const defs = [
    "-A",
    `KAM_PORT=${KAM_PORT}`,
    "-A",
    `CHILDREN=${kamChildren}`,
    "-A",
    `TCP_CHILDREN=${kamChildren}`,
    "-A",
    `DBURL="sqlite://${db}"`,
    "-A",
    `CTLSOCK="unix:${join(dir, "kamailio_ctl")}"`,
    ...(auth ? ["-A", "WITH_AUTH"] : []),
  ];
  const check = sh("kamailio", ["-c", "-f", cfg, ...defs], 30_000);
  if (!/config file ok|Listening on/i.test(check) || /error/i.test(check.replace(/debug=\S+/g, "")))
    throw new Error(`kamailio -c rejected ${cfg}:\n${check.slice(-2000)}`);
  // -DD: foreground (so the pid is the main process), children still forked; -E: log to stderr.
  const child = new Child(
    "kamailio",
    "setpriv",
    bounded(phaseBoundS(), "kamailio", [
      "-DD",
      "-E",
      "-f",
      cfg,
      "-m",
      String(shmMb),
      "-M",
      "16",
      ...kamArgs,
      ...defs,
    ]),
  );
  await waitForSip(child, KAM_PORT);
  remember(child);
  const version = sh("kamailio", ["-v"]).split("\n")[0] ?? "";
  log(
    `Kamailio (${version.replace(/^version:\s*/, "")}) pid ${child.pid}: ${kamChildren} UDP + ${kamChildren} TCP workers, ` +
      `args "${kamArgs.join(" ")}", ${shmMb} MB shm, udp+tcp 127.0.0.1:${KAM_PORT}${auth ? ", WITH_AUTH" : ""}`,
  );
  return { label: "Kamailio", port: KAM_PORT, child, pid: child.pid, callees: "" };
}

/** The environment of sipext's processes: ours, minus any sipext setting that could leak in. */
function sipextEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("SIPEXT_") || k === "DATABASE_URL" || k === "NODE_OPTIONS") continue;
    env[k] = v;
  }
  return {
    ...env,
    SIPEXT_DATA_DIR: dataDir,
    SIPEXT_REGISTRAR_DOMAIN: REGISTRAR_DOMAIN,
    SIPEXT_DIRECT_DOMAIN: DIRECT_DOMAIN,
    SIPEXT_SIP_HOST: "127.0.0.1",
    SIPEXT_SIP_PORT: String(SIPEXT_PORT),
    SIPEXT_HTTP_HOST: "127.0.0.1",
    SIPEXT_HTTP_PORT: "0",
    SIPEXT_LOG_LEVEL: "warn",
  };
}

/** A node child: bounded by timeout(1), and ended by orphan-guard.ts when we die. */
const nodeChild = (
  label: string,
  boundS: number,
  script: string[],
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
) =>
  new Child(
    label,
    "setpriv",
    bounded(boundS, process.execPath, [
      ...nodeArgs,
      "--import",
      "tsx",
      "--import",
      "./bench/calls/orphan-guard.ts",
      ...script,
    ]),
    { cwd: ROOT, env, stdinPipe: true, forwardStderr: true },
  );

async function seedSipext(dataDir: string, csv: string): Promise<SeedResult> {
  const child = nodeChild(
    "seed",
    15 * 60,
    ["bench/calls/seed.ts", String(users), String(DOMAINS), csv],
    sipextEnv(dataDir),
  );
  return child.result<SeedResult>(RESULT_PREFIX, 15 * 60_000 + 10_000);
}

async function startSipext(dataDir: string, profDir: string | undefined): Promise<Proxy> {
  const nodeArgs = profDir ? cpuProfArgs(profDir) : [];
  const child = nodeChild(
    "sipext",
    phaseBoundS(),
    ["src/cli/main.ts", "serve"],
    sipextEnv(dataDir),
    nodeArgs,
  );
  await waitForSip(child, SIPEXT_PORT);
  remember(child);
  log(`sipext pid ${child.pid}: udp+tcp 127.0.0.1:${SIPEXT_PORT}`);
  return { label: "sipext", port: SIPEXT_PORT, child, pid: child.pid, callees: "" };
}

// ---------------------------------------------------------------------------------------------
// SIPp

interface SippStats {
  ok: number;
  failed: number;
  outgoing: number;
  retrans: number;
  avgRtMs: number;
  elapsedS: number;
}

/** The last line of a SIPp -stf statistics file. */
function readSippStats(file: string): SippStats | undefined {
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, "utf8").trim().split("\n");
  const head = (lines[0] ?? "").split(";");
  const last = (lines.at(-1) ?? "").split(";");
  if (lines.length < 2) return undefined;
  const col = (name: string) => last[head.indexOf(name)] ?? "";
  const hmsMs = (v: string) => {
    const [h, m, s, us] = v.split(":").map(Number);
    return ((h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0)) * 1000 + (us ?? 0) / 1000;
  };
  const stamp = (v: string) => Number(v.split("\t")[2] ?? Number.NaN);
  return {
    ok: Number(col("SuccessfulCall(C)")),
    failed: Number(col("FailedCall(C)")),
    outgoing: Number(col("OutgoingCall(C)")),
    retrans: Number(col("Retransmissions(C)")),
    avgRtMs: hmsMs(col("ResponseTime1(C)")),
    elapsedS: stamp(col("CurrentTime")) - stamp(col("StartTime")),
  };
}

/** Counts the kinds of events in a SIPp error log (first 4 MB), with one full example of each. */
function summarizeErrors(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8").slice(0, 4 * 1024 * 1024);
  const kinds = new Map<string, { n: number; example: string }>();
  // Events follow each other without a separator (a quoted message ends with "'").
  const events = text.split(/'?\n?(?=\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d+\t)/).slice(1);
  for (const e of events) {
    const body = e.replace(/^\S+\t\S+\t\S+: /, "");
    const kind = body
      .split("\n")[0]!
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

/** REGISTER every callee from the callee SIPp's port (so that calls come back to that port). */
async function registerCallees(proxy: Proxy, files: Files, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const stf = join(dir, "register_stat.csv");
  const bound = users / REGISTER_RATE + 60;
  const child = new Child(
    `${proxy.label} register`,
    "setpriv",
    bounded(bound + 10, "sipp", [
      `127.0.0.1:${proxy.port}`,
      "-sf",
      join(HERE, "sipp_register_auth.xml"),
      "-inf",
      files.register,
      "-key",
      "expires",
      "3600",
      "-i",
      "127.0.0.1",
      "-p",
      String(UAS_PORT),
      "-t",
      sippTransport,
      "-r",
      String(REGISTER_RATE),
      "-m",
      String(users),
      "-timeout",
      `${Math.ceil(bound)}s`,
      "-recv_timeout",
      "5000",
      "-buff_size",
      "1048576",
      "-nostdin",
      "-trace_stat",
      "-stf",
      stf,
      "-fd",
      "1",
      "-trace_err",
      "-error_file",
      join(dir, "register_errors.log"),
    ]),
    { cwd: dir, stdout: "ignore" },
  );
  await within((bound + 30) * 1000, `${proxy.label} registrations`, child.exited);
  const s = readSippStats(stf);
  if (!s || s.ok !== users) {
    const errs = summarizeErrors(join(dir, "register_errors.log"));
    throw child.failure(
      `registered ${s?.ok ?? 0} of ${users} callees with ${proxy.label}${errs.length ? `:\n    ${errs.join("\n    ")}` : ""}`,
    );
  }
  log(`${proxy.label}: ${users} callees registered from 127.0.0.1:${UAS_PORT} (${sippTransport})`);
}

/** The callee SIPp: answers every INVITE on the port the callees registered from. */
async function startCallees(label: string, dir: string): Promise<Child> {
  mkdirSync(dir, { recursive: true });
  const bound = phaseBoundS();
  const child = new Child(
    `${label} callees`,
    "setpriv",
    bounded(bound + 10, "sipp", [
      "-sf",
      join(HERE, "sipp_uas.xml"),
      "-i",
      "127.0.0.1",
      "-p",
      String(UAS_PORT),
      ...SIPP_CALL_OPTIONS,
      "-recv_timeout",
      "10000",
      "-timeout",
      `${bound}s`,
      "-nostdin",
      "-trace_stat",
      "-stf",
      join(dir, "callees_stat.csv"),
      "-fd",
      "5",
      "-trace_err",
      "-error_file",
      join(dir, "callees_errors.log"),
    ]),
    { cwd: dir, stdout: "ignore" },
  );
  // SIPp binds before it reads the scenario's first recv: give it a moment, then check it lives.
  await sleep(1_000);
  if (!child.running) throw child.failure("exited at start");
  remember(child);
  return child;
}

interface Step {
  label: string;
  rate: number;
  calls: number;
  ok: number;
  failed: number;
  failPct: number;
  retrans: number;
  achieved: number;
  avgRtMs: number;
  proxyCpuPct: number;
  /** the proxy's CPU time per completed call, µs */
  proxyUsPerCall: number;
  callerCpuPct: number;
  calleeCpuPct: number;
  machinePct: number;
  rssKb: number;
  pssKb: number;
  nproc: number;
  /** UDP datagrams dropped by the kernel (receive queue full) at the proxy's and the callees' socket */
  proxyDrops: number;
  calleeDrops: number;
  busyBefore: number;
  busyWarned: boolean;
  /** other benchmarks or test runs on the machine when the step started */
  others: number;
  pass: boolean;
  errors: string[];
}

interface StepTarget {
  label: string;
  port: number;
  callees: string;
  /** measured process tree (undefined: none, the latency baseline) */
  pid: number | undefined;
  calleeChild: Child;
}

/** Datagrams the kernel dropped for the UDP socket(s) bound to 127.0.0.1:port (receive queue full). */
function udpDrops(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  let drops = 0;
  try {
    for (const line of readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hex)) drops += Number(f.at(-1) ?? 0);
    }
  } catch {
    // no /proc/net/udp
  }
  return drops;
}

/** One load step: R calls/s for `seconds`, bounded in calls (-m) and time (-timeout, timeout(1)). */
async function callStep(
  t: StepTarget,
  rate: number,
  seconds: number,
  dir: string,
  extra: string[] = [],
): Promise<Step> {
  mkdirSync(dir, { recursive: true });
  const calls = rate * seconds;
  const quiet = await waitQuiet();
  const others = otherBenchmarks().length;
  const stf = join(dir, "stat.csv");
  const errFile = join(dir, "errors.log");
  const d0 = { proxy: udpDrops(t.port), callee: udpDrops(UAS_PORT) };
  const p0 = t.pid ? treeTicks(t.pid) : 0;
  const u0 = treeTicks(t.calleeChild.pid);
  const c0 = reapedChildTicks();
  const m0 = machineJiffies();
  const w0 = performance.now();
  const child = new Child(
    `${t.label} callers ${rate}/s`,
    "setpriv",
    bounded(seconds + 40, "sipp", [
      `127.0.0.1:${t.port}`,
      "-sf",
      join(HERE, auth ? "sipp_uac_auth.xml" : "sipp_uac.xml"),
      "-inf",
      t.callees,
      "-i",
      "127.0.0.1",
      "-p",
      String(UAC_PORT),
      ...SIPP_CALL_OPTIONS,
      "-recv_timeout",
      "5000",
      "-r",
      String(rate),
      "-m",
      String(calls),
      "-timeout",
      `${seconds + 30}s`,
      "-nostdin",
      "-trace_stat",
      "-stf",
      stf,
      "-fd",
      "1",
      "-trace_err",
      "-error_file",
      errFile,
      ...extra,
    ]),
    { cwd: dir, stdout: "ignore" },
  );
  await within((seconds + 60) * 1000, child.label, child.exited);
  if (stopping) throw new Error("interrupted");
  const wallS = (performance.now() - w0) / 1000;
  const p1 = t.pid ? treeTicks(t.pid) : 0;
  const d1 = { proxy: udpDrops(t.port), callee: udpDrops(UAS_PORT) };
  const u1 = treeTicks(t.calleeChild.pid);
  const c1 = reapedChildTicks();
  const m1 = machineJiffies();
  const mem = t.pid ? treeMemKb(t.pid) : { rssKb: Number.NaN, pssKb: Number.NaN, nproc: 0 };
  const s = readSippStats(stf);
  if (!s) throw child.failure(`wrote no statistics (${stf})`);
  const pct = (ticks: number) => Math.round((100 * ticks) / HZ / wallS);
  const achieved = s.elapsedS > 0 ? Math.round(s.ok / s.elapsedS) : 0;
  const pass = s.ok >= 0.999 * calls && achieved >= 0.95 * rate;
  return {
    label: t.label,
    rate,
    calls,
    ok: s.ok,
    failed: s.failed,
    failPct: Number(((100 * (calls - s.ok)) / calls).toFixed(3)),
    retrans: s.retrans,
    achieved,
    avgRtMs: Number(s.avgRtMs.toFixed(2)),
    proxyCpuPct: t.pid ? pct(p1 - p0) : Number.NaN,
    proxyUsPerCall: t.pid && s.ok > 0 ? Math.round(((p1 - p0) / HZ / s.ok) * 1e6) : Number.NaN,
    callerCpuPct: pct(c1 - c0),
    calleeCpuPct: pct(u1 - u0),
    machinePct:
      m1.total > m0.total ? Math.round((100 * (m1.busy - m0.busy)) / (m1.total - m0.total)) : Number.NaN,
    rssKb: mem.rssKb,
    pssKb: mem.pssKb,
    nproc: mem.nproc,
    proxyDrops: t.pid ? d1.proxy - d0.proxy : Number.NaN,
    calleeDrops: d1.callee - d0.callee,
    busyBefore: quiet.busy,
    busyWarned: quiet.warned,
    others,
    pass,
    errors: pass ? [] : summarizeErrors(errFile),
  };
}

function stepLine(s: Step): string {
  return (
    `${s.label} ${String(s.rate).padStart(5)}/s: ok ${s.ok}/${s.calls} (${s.failPct} % failed) retrans ${s.retrans} ` +
    `achieved ${s.achieved}/s (UDP drops proxy ${s.proxyDrops} callees ${s.calleeDrops}) avg INVITE→200 ${s.avgRtMs} ms | proxy CPU ${s.proxyCpuPct} % (${s.proxyUsPerCall} µs/call) callers ${s.callerCpuPct} % ` +
    `callees ${s.calleeCpuPct} % machine ${s.machinePct} % (tick-sampled) | proxy RSS ${fmtMiB(s.rssKb)} PSS ${fmtMiB(s.pssKb)} ` +
    `(${s.nproc} proc) | busy before ${s.busyBefore} %${s.others ? `, ${s.others} other benchmark/test process(es) running` : ""} | ${s.pass ? "pass" : "FAIL"}`
  );
}

interface Ramp {
  label: string;
  steps: Step[];
  /** the passing step with the highest achieved rate */
  best: Step | undefined;
  lastPassRate: number;
  firstFail: Step | undefined;
}

async function ramp(t: StepTarget, dir: string): Promise<Ramp> {
  const steps: Step[] = [];
  const run = async (rate: number) => {
    const s = await callStep(t, rate, duration, join(dir, `rate_${rate}`));
    steps.push(s);
    log(stepLine(s));
    for (const e of s.errors) log(`    ${e}`);
    return s.pass;
  };
  let lastPass = 0;
  let firstFail = 0;
  for (const r of rates) {
    if (await run(r)) lastPass = r;
    else {
      firstFail = r;
      break;
    }
    await sleep(2_000);
  }
  if (firstFail > 0 && lastPass > 0) {
    let lo = lastPass;
    let hi = firstFail;
    const grain = hi - lo > 200 ? 50 : 10;
    for (let i = 0; i < refine; i++) {
      const mid = Math.floor((lo + hi) / 2 / grain) * grain;
      if (mid <= lo || mid >= hi) break;
      await sleep(2_000);
      if (await run(mid)) lo = mid;
      else hi = mid;
    }
    lastPass = lo;
  }
  const passing = steps.filter((s) => s.pass);
  return {
    label: t.label,
    steps,
    best: passing.reduce<Step | undefined>((a, s) => (!a || s.achieved > a.achieved ? s : a), undefined),
    lastPassRate: lastPass,
    firstFail: steps.find((s) => !s.pass),
  };
}

// ---------------------------------------------------------------------------------------------
// Latency: INVITE → 200 at the caller, from a packet capture of the caller's port

interface Latency {
  label: string;
  rate: number;
  step: Step;
  times: CaptureTimes;
  p50Us: number;
  p99Us: number;
  dropped: string;
}

async function latencyRun(t: StepTarget, rate: number, dir: string): Promise<Latency> {
  mkdirSync(dir, { recursive: true });
  const pcap = join(dir, "caller.pcap");
  const seconds = latencyDuration;
  const dump = new Child(
    `${t.label} tcpdump`,
    "setpriv",
    bounded(seconds + 200, "tcpdump", [
      "-i",
      "lo",
      "-n",
      "-s",
      "0",
      "-B",
      "65536",
      "-w",
      pcap,
      `port ${UAC_PORT}`,
    ]),
    { cwd: dir },
  );
  await dump.waitForLine(/listening on/i, 15_000);
  let step: Step;
  try {
    step = await callStep(t, rate, seconds, join(dir, "step"));
  } finally {
    await dump.stop(10_000, "SIGINT");
  }
  const stats = dump.stderrTail.filter((l) => /packets/.test(l)).join("; ");
  const times = inviteTo200(pcap, UAC_PORT);
  return {
    label: t.label,
    rate,
    step,
    times,
    p50Us: quantile(times.micros, 0.5),
    p99Us: quantile(times.micros, 0.99),
    dropped: stats,
  };
}

function latencyLine(l: Latency): string {
  return (
    `${l.label} at ${l.rate}/s: INVITE→200 p50 ${fmtMs(l.p50Us)} p99 ${fmtMs(l.p99Us)} over ${l.times.answered} calls ` +
    `(${l.step.ok} ok of ${l.step.calls}, ${l.step.failPct} % failed; tcpdump: ${l.dropped || "n/a"})`
  );
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? "n/a" : Math.round(n).toLocaleString("en-US");
const fmtMiB = (kb: number | undefined) =>
  kb === undefined || Number.isNaN(kb) ? "n/a" : `${(kb / 1024).toFixed(0)} MiB`;
const fmtMs = (us: number | undefined) =>
  us === undefined || Number.isNaN(us) ? "n/a" : `${(us / 1000).toFixed(3)} ms`;

interface Added {
  proxy: Latency;
  direct: Latency;
  p50Us: number;
  p99Us: number;
}

const added = (proxy: Latency, direct: Latency): Added => ({
  proxy,
  direct,
  p50Us: proxy.p50Us - direct.p50Us,
  p99Us: proxy.p99Us - direct.p99Us,
});

interface Report {
  machine: Machine;
  loadAtStart: string;
  busyAtStart: number;
  idle: { waitedS: number; idle: boolean } | undefined;
  othersAtStart: string[];
  seed: SeedResult | undefined;
  kamailio: Ramp | undefined;
  sipext: Ramp | undefined;
  latencyRate: number | undefined;
  kamLatency: Added | undefined;
  sipextLatency: Added | undefined;
  loadAtEnd: string;
}

const perSecond = (r: Ramp | undefined) => r?.best?.achieved ?? 0;

function ratioOf(r: Report): number | undefined {
  if (!r.kamailio || !r.sipext || perSecond(r.kamailio) === 0) return undefined;
  return perSecond(r.sipext) / perSecond(r.kamailio);
}

function rampLine(r: Ramp): string {
  const b = r.best;
  if (!b) return `${r.label}: no passing step`;
  const fail = r.firstFail
    ? `first failing target ${fmt(r.firstFail.rate)}/s (${r.firstFail.failPct} % failed)`
    : "every step passed: the limit was not reached (extend --rates)";
  return (
    `${r.label}: ${fmt(b.achieved)} calls/s (target ${fmt(b.rate)}/s; ${fail}) | proxy CPU ${fmt(b.proxyCpuPct)} % of a core (${fmt(b.proxyUsPerCall)} µs/call), ` +
    `RSS ${fmtMiB(b.rssKb)} (PSS ${fmtMiB(b.pssKb)}, ${b.nproc} proc) | SIPp CPU callers ${fmt(b.callerCpuPct)} % callees ${fmt(b.calleeCpuPct)} %`
  );
}

function addressing(): string {
  return auth
    ? "Authenticated calls on both: the callee's own address `sip:userNNNNNN@<customer domain>`, INVITE → 407 → ACK → INVITE with " +
        "`Proxy-Authorization` (MD5, qop=auth) from another user of the same domain; sipext checks the caller's extension " +
        "credentials, Kamailio runs `proxy_authorize` against its subscriber table (`-A WITH_AUTH`)"
    : "No authentication on either: sipext is called at each callee's public direct address " +
        `\`sip:direct.<hash>@${DIRECT_DOMAIN}\` (no 407 by design: one store lookup of the hash, then the location ` +
        'index), Kamailio at `sip:userNNNNNN@<domain>` with `lookup("location")` + `t_relay()` and no `proxy_authorize` — ' +
        "the same work: one lookup, Record-Route, stateful relay to every binding";
}

function stepsTable(r: Ramp): string[] {
  return [
    `| ${r.label} target/s | achieved/s | failed % | retrans | avg INVITE→200 ms (SIPp, whole ms) | proxy CPU % | proxy CPU µs/call | callers CPU % | callees CPU % | proxy RSS MiB | UDP drops proxy / callees | busy before % | other runs | pass |`,
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ...r.steps.map(
      (s) =>
        `| ${fmt(s.rate)} | ${fmt(s.achieved)} | ${s.failPct} | ${fmt(s.retrans)} | ${s.avgRtMs} | ${fmt(s.proxyCpuPct)} | ${fmt(s.proxyUsPerCall)} | ` +
        `${fmt(s.callerCpuPct)} | ${fmt(s.calleeCpuPct)} | ${(s.rssKb / 1024).toFixed(0)} | ${fmt(s.proxyDrops)} / ${fmt(s.calleeDrops)} | ${fmt(s.busyBefore)} | ${s.others} | ${s.pass ? "yes" : "no"} |`,
    ),
  ];
}

function section(r: Report): string {
  const k = r.kamailio as Ramp;
  const s = r.sipext as Ramp;
  const ratio = ratioOf(r);
  const row = (x: Ramp, name: string) =>
    `| ${name} | **${fmt(perSecond(x))}** | ${fmt(x.best?.rate)} | ${x.firstFail ? `${fmt(x.firstFail.rate)} (${x.firstFail.failPct} % failed)` : "none"} | ` +
    `${fmt(x.best?.proxyCpuPct)} | ${fmt(x.best?.proxyUsPerCall)} | ${fmtMiB(x.best?.rssKb)} (PSS ${fmtMiB(x.best?.pssKb)}, ${fmt(x.best?.nproc)} proc) | ` +
    `${fmt(x.best?.callerCpuPct)} / ${fmt(x.best?.calleeCpuPct)} |`;
  const latRow = (a: Added | undefined, name: string) =>
    a
      ? `| ${name} | ${fmtMs(a.p50Us)} | ${fmtMs(a.p99Us)} | ${fmtMs(a.proxy.p50Us)} / ${fmtMs(a.proxy.p99Us)} | ` +
        `${fmtMs(a.direct.p50Us)} / ${fmtMs(a.direct.p99Us)} | ${fmt(a.proxy.times.answered)} / ${fmt(a.direct.times.answered)} | ` +
        `${a.proxy.step.failPct} |`
      : `| ${name} | n/a | n/a | | | | |`;
  const idle = r.idle
    ? r.idle.idle
      ? `waited ${Math.round(r.idle.waitedS)} s for a 1-minute load average < 1.0 held for a minute`
      : `NOT idle after waiting ${Math.round(r.idle.waitedS)} s`
    : "no idle wait";
  const warned = [...k.steps, ...s.steps].filter((x) => x.busyWarned).length;
  const crowded = [...k.steps, ...s.steps].filter((x) => x.others > 0).length;
  return [
    SECTION_BEGIN,
    "## Calls through the proxy (npm run bench:calls)",
    "",
    `- Command: \`${commandLine}\` — ramp steps ${rates.join(", ")} calls/s, ${duration} s each, ${refine} bisection step(s) ` +
      `after the first failure; SIPp \`${SIPP_CALL_OPTIONS.join(" ")}\` (callers also \`-recv_timeout 5000\`) for both proxies, one after the other.`,
    `- Date: ${r.machine.date}`,
    `- Machine: ${r.machine.nproc} cores (${r.machine.cpu}), ${r.machine.ramGiB} GiB RAM, Linux ${r.machine.kernel}, node ${r.machine.node}, ` +
      `Kamailio ${r.machine.kamailio} (\`bench/calls/kamailio-proxy.cfg\`, ${kamChildren} UDP + ${kamChildren} TCP workers, ` +
      `\`${kamArgs.join(" ")}\`, ${shmMb} MB shm), SIPp ${r.machine.sipp}; both SIPp processes and the proxy share the 2 cores.`,
    `- Load: ${idle}; load average ${r.loadAtStart} at the start, ${r.loadAtEnd} at the end; ${r.busyAtStart} % of all cores ` +
      `busy when measuring began; ${warned} step(s) started on a machine still ≥ 10 % busy after 120 s, ${crowded} while another ` +
      "benchmark or test run was on the machine.",
    `- Calls: ${fmt(users)} callees (the user set of \`users.awk\`: ${DOMAINS} domains; sipext on embedded SQLite with ` +
      `\`SIPEXT_REGISTRAR_DOMAIN=${REGISTRAR_DOMAIN}\`), all registered (REGISTER with digest, \`sipp_register_auth.xml\`) from the port of ` +
      `one callee SIPp (\`sipp_uas.xml\`: 180, 200 with SDP, ACK, BYE → 200), called round-robin by one caller SIPp (\`sipp_uac.xml\`: ` +
      `INVITE → (100) → 180 → 200 → ACK → ${hold ? `${hold} ms → ` : ""}BYE → 200 along the Record-Route set${hold ? "" : ", no hold time"}) over ` +
      `${transport === "u1" ? "UDP" : "TCP"}. ${addressing()}.`,
    "",
    "Highest sustained call rate (≥ 99.9 % of the step's calls completed, ≥ 95 % of the target rate achieved); CPU and memory at that step:",
    "",
    "| proxy | calls/s | at target/s | first failing target/s | proxy CPU % of one core | proxy CPU µs per call | proxy memory | SIPp CPU % callers / callees |",
    "|---|---:|---:|---|---:|---:|---|---:|",
    row(k, `Kamailio ${r.machine.kamailio}`),
    row(s, "sipext"),
    "",
    `**sipext / Kamailio = ${ratio === undefined ? "n/a" : ratio.toFixed(2)}** (target ≥ ${RATIO_TARGET.toFixed(2)}: ${
      ratio !== undefined && ratio >= RATIO_TARGET ? "met" : "not met"
    }).`,
    "",
    `sipext runs as one Node.js process, so on one core at most (${fmt(s.best?.proxyCpuPct)} % of one at its highest ` +
      `passing rate); Kamailio's ${kamChildren} UDP workers share both cores with the two SIPp processes. Both ask ` +
      "for an 8 MB UDP receive buffer (Kamailio's `maxbuffer`). sipext keeps an answered call's key for 32-64 s " +
      "(Timer L, 64×T1) and a BYE's response as long (Timer J); Kamailio's tm keeps each transaction 5 s (its wait " +
      "timer): memory grows with the call rate in both. Past its limit a proxy's UDP socket overflows (the kernel's " +
      "drops are counted per step below) and calls fail.",
    "",
    `Latency added by the proxy at ${fmt(r.latencyRate)} calls/s (half of sipext's highest rate): INVITE → 200 at the caller ` +
      "through the proxy minus the same straight to the callee SIPp, each measured for " +
      `${latencyDuration} s, times from a packet capture of the caller's port (kernel timestamps; SIPp's own counts whole ms):`,
    "",
    "| proxy | added p50 | added p99 | through the proxy p50 / p99 | direct p50 / p99 | calls timed proxy / direct | failed % |",
    "|---|---:|---:|---:|---:|---:|---:|",
    latRow(r.kamLatency, "Kamailio"),
    latRow(r.sipextLatency, "sipext"),
    "",
    "<details><summary>Every ramp step</summary>",
    "",
    ...stepsTable(k),
    "",
    ...stepsTable(s),
    "",
    "</details>",
    SECTION_END,
  ].join("\n");
}

/** The proxy's added latency at `rate`: INVITE → 200 straight to the callees, then through it. */
async function addedLatency(
  t: StepTarget,
  callees: Child,
  files: Files,
  rate: number,
  dir: string,
): Promise<Added> {
  const direct = await latencyRun(
    { label: "direct", port: UAS_PORT, callees: files.directCallees, pid: undefined, calleeChild: callees },
    rate,
    join(dir, "direct"),
  );
  log(latencyLine(direct));
  await sleep(2_000);
  const through = await latencyRun(t, rate, join(dir, "proxy"));
  log(latencyLine(through));
  return added(through, direct);
}

/** The top self-time functions of sipext's CPU profile (--profile), copied out of the temp dir. */
function logProfile(profDir: string): void {
  const kept = keepProfile(profDir, join(tmpdir(), "sipext-bench-calls.cpuprofile"));
  if (!kept) {
    log("no .cpuprofile was written");
    return;
  }
  log(`sipext CPU profile (${kept}):`);
  for (const l of formatSummary(summarize(kept, 30)).split("\n")) log(`  ${l}`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function proxyPhase(
  proxy: Proxy,
  files: Files,
  dir: string,
  work: (t: StepTarget, callees: Child) => Promise<void>,
): Promise<void> {
  let callees: Child | undefined;
  try {
    await registerCallees(proxy, files, join(dir, "register"));
    callees = await startCallees(proxy.label, join(dir, "callees"));
    await work(
      { label: proxy.label, port: proxy.port, callees: proxy.callees, pid: proxy.pid, calleeChild: callees },
      callees,
    );
  } finally {
    await callees?.stop(5_000);
    await proxy.child.stop();
    // sipext logs at warn level on stdout (pino): anything there is worth a look
    if (proxy.label === "sipext" && proxy.child.stdoutCount > 0) {
      log(`${proxy.label} logged ${proxy.child.stdoutCount} line(s) at warn level or above; the first ones:`);
      for (const l of proxy.child.stdoutLines.slice(0, 5)) log(`    ${l.slice(0, 400)}`);
    }
    if (callees) {
      const cs = readSippStats(join(dir, "callees", "callees_stat.csv"));
      if (cs && cs.failed > 0) {
        log(`${proxy.label}: the callee SIPp failed ${cs.failed} calls of ${cs.ok + cs.failed}`);
        for (const e of summarizeErrors(join(dir, "callees", "callees_errors.log")).slice(0, 3))
          log(`    ${e}`);
      }
    }
  }
}

async function main(): Promise<void> {
  install();
  await stopLeftovers();
  for (const [name, p] of [
    ["Kamailio", KAM_PORT],
    ["sipext", SIPEXT_PORT],
    ["callee SIPp", UAS_PORT],
    ["caller SIPp", UAC_PORT],
  ] as const) {
    if (!(await portFree(p)))
      throw new Error(`port ${p} (${name}) is in use on 127.0.0.1: pick others with --ports`);
  }
  tempRoot = mkdtempSync(join(tmpdir(), "sipext-bench-calls-"));
  log(`temp dir ${tempRoot}${args.keep ? " (kept)" : ""}`);
  log(
    `${quick ? "quick run: " : ""}${users} callees, rates ${rates.join(" ")}/s, ${duration} s per step, refine ${refine}, ` +
      `${transport}, ${auth ? "authenticated calls (--auth)" : "unauthenticated calls (direct addresses on sipext)"}`,
  );

  // 1. Seeds.
  const dataDir = join(tempRoot, "sipext-data");
  let seed: SeedResult | undefined;
  if (!args["skip-sipext"]) {
    log(`seeding sipext: ${users} extensions in ${DOMAINS} customers`);
    seed = await seedSipext(dataDir, join(tempRoot, "callees-direct.csv"));
    log(`  seeded in ${(seed.ms / 1000).toFixed(1)} s`);
  }
  const files = writeUserFiles(tempRoot, seed?.directCsv);

  const idle = waitIdle ? await waitForIdle() : undefined;
  const loadAtStart = loadText();
  const busyAtStart = await machineBusy();
  const othersAtStart = otherLoad();
  log(`machine: load average ${loadAtStart}, ${busyAtStart} % of all cores busy`);
  for (const l of othersAtStart) log(`  busy elsewhere: ${l}`);

  // 2. Kamailio's ramp.
  let kamailio: Ramp | undefined;
  if (!args["skip-kamailio"]) {
    const proxy = await startKamailio(join(tempRoot, "kamailio"));
    proxy.callees = files.kamCallees;
    await proxyPhase(proxy, files, join(tempRoot, "kamailio"), async (t) => {
      kamailio = await ramp(t, join(tempRoot as string, "kamailio", "ramp"));
    });
    if (kamailio) log(rampLine(kamailio));
  }

  // 3. sipext's ramp, then its latency (and the direct baseline) at half its highest rate.
  let sipext: Ramp | undefined;
  let latencyRate = latencyRateOpt;
  let sipextLatency: Added | undefined;
  if (!args["skip-sipext"]) {
    const profDir = args.profile ? join(tempRoot, "cpuprof") : undefined;
    const proxy = await startSipext(dataDir, profDir);
    proxy.callees = files.sipextCallees;
    await proxyPhase(proxy, files, join(tempRoot, "sipext"), async (t, callees) => {
      sipext = await ramp(t, join(tempRoot as string, "sipext", "ramp"));
      log(rampLine(sipext));
      latencyRate ??= Math.max(1, Math.floor(perSecond(sipext) / 2));
      if (args["skip-latency"] || perSecond(sipext) === 0) return;
      await sleep(2_000);
      sipextLatency = await addedLatency(
        t,
        callees,
        files,
        latencyRate,
        join(tempRoot as string, "sipext", "latency"),
      );
    });
    if (profDir) logProfile(profDir);
  }

  // 4. Kamailio's latency at the same rate (started again: its ramp may have left it loaded).
  let kamLatency: Added | undefined;
  if (!args["skip-kamailio"] && !args["skip-latency"] && latencyRate !== undefined) {
    const proxy = await startKamailio(join(tempRoot, "kamailio-latency"));
    proxy.callees = files.kamCallees;
    await proxyPhase(proxy, files, join(tempRoot, "kamailio-latency"), async (t, callees) => {
      const dir = join(tempRoot as string, "kamailio-latency");
      kamLatency = await addedLatency(t, callees, files, latencyRate as number, dir);
    });
  }

  // 5. Report.
  const report: Report = {
    machine: machine(),
    loadAtStart,
    busyAtStart,
    idle,
    othersAtStart,
    seed,
    kamailio,
    sipext,
    latencyRate,
    kamLatency,
    sipextLatency,
    loadAtEnd: loadText(),
  };
  const ratio = ratioOf(report);
  const out: string[] = [""];
  out.push(
    `machine: ${report.machine.nproc} cores ${report.machine.cpu}, ${report.machine.ramGiB} GiB, node ${report.machine.node}, ` +
      `Kamailio ${report.machine.kamailio}, SIPp ${report.machine.sipp}`,
  );
  out.push(
    `load: average ${loadAtStart} at the start (${idle ? (idle.idle ? `idle after ${Math.round(idle.waitedS)} s` : "NOT idle") : "no idle wait"}), ${report.loadAtEnd} at the end`,
  );
  if (kamailio) out.push(rampLine(kamailio));
  if (sipext) out.push(rampLine(sipext));
  if (ratio !== undefined)
    out.push(
      `ratio sipext/Kamailio: ${ratio.toFixed(2)} (target ≥ ${RATIO_TARGET}: ${ratio >= RATIO_TARGET ? "met" : "NOT met"})`,
    );
  for (const [name, a] of [
    ["Kamailio", kamLatency],
    ["sipext", sipextLatency],
  ] as const) {
    if (a)
      out.push(
        `${name} added latency at ${latencyRate}/s: p50 ${fmtMs(a.p50Us)} p99 ${fmtMs(a.p99Us)} ` +
          `(through ${fmtMs(a.proxy.p50Us)} / ${fmtMs(a.proxy.p99Us)}, direct ${fmtMs(a.direct.p50Us)} / ${fmtMs(a.direct.p99Us)})`,
      );
  }
  process.stderr.write(`${out.join("\n")}\n\n`);
  if (kamailio) process.stdout.write(`kamailio_calls_per_s=${perSecond(kamailio)}\n`);
  if (sipext) process.stdout.write(`sipext_calls_per_s=${perSecond(sipext)}\n`);
  if (ratio !== undefined) process.stdout.write(`ratio_sipext_kamailio=${ratio.toFixed(3)}\n`);

  if (write && kamailio && sipext) {
    writeBenchmarkSection(BENCHMARKS_MD, "calls", section(report));
    log(`updated the calls section of ${BENCHMARKS_MD}`);
  } else {
    log("BENCHMARKS.md left alone (--quick, --no-write or a part skipped; --write to record)");
  }
  if (args.keep && tempRoot)
    writeFileSync(join(tempRoot, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (err: unknown) => {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await cleanup();
    process.exit(1);
  });
