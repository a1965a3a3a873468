// `npm run bench:sip [-- options]`
//
// sipext's SIP registrar against Kamailio, in one run, with the same SIPp options (the ramp driver
// /work/shared/bench/kamailio/run.sh, see its README):
//   1. seeds sipext (temp SIPEXT_DATA_DIR, embedded SQLite) with Kamailio's user set (seed.ts, in
//      its own process, database closed before the server starts);
//   2. ramps Kamailio (run.sh starts and stops it);
//   3. starts sipext (`src/cli/main.ts serve`) and ramps it (run.sh --no-kamailio --pid);
//   4. measures the memory of one binding in the location index (memory.ts, --expose-gc);
//   5. prints both rates, their ratio, CPU and RSS, and rewrites its section of BENCHMARKS.md.
// Every child is tracked and stopped (with its descendants, by pid) on exit, error or signal.
import { createHash, randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { sectionMarkers, writeBenchmarkSection } from "../benchmarks-md.js";
import {
  cpuProfArgs,
  formatSummary,
  keepProfile,
  type ProfileSummary,
  summarize,
} from "../cpuprofile-top.js";
import { type Machine, machine, wholeOption } from "../machine.js";
import {
  Child,
  childEnv,
  logger,
  machineBusy,
  otherLoad,
  portFree,
  sh,
  shellQuote,
  sleep,
  stopAllChildren,
  stopChildrenOnExit,
  within,
} from "../proc.js";
import { DOMAINS, domainOf, passwordOf, REGISTRAR_DOMAIN, USERS, userOf } from "../user-set.js";
import { type MemoryResult, RESULT_PREFIX, type SeedResult } from "./protocol.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const RUN_SH = "/work/shared/bench/kamailio/run.sh";
const BENCHMARKS_MD = join(ROOT, "BENCHMARKS.md");
const { begin: SECTION_BEGIN, end: SECTION_END } = sectionMarkers("sip");
const MEMORY_TARGET_BYTES = 1024;
const RATIO_TARGET = 0.5;

// ---------------------------------------------------------------------------------------------
// Options

const { values: args } = parseArgs({
  options: {
    rates: { type: "string" },
    duration: { type: "string" },
    refine: { type: "string" },
    transport: { type: "string" },
    quick: { type: "boolean", default: false },
    "sip-port": { type: "string" },
    "no-install": { type: "boolean", default: false },
    "skip-kamailio": { type: "boolean", default: false },
    "skip-sipext": { type: "boolean", default: false },
    "skip-memory": { type: "boolean", default: false },
    bindings: { type: "string" },
    profile: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    write: { type: "boolean" },
    "no-write": { type: "boolean" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});

if (args.help) {
  process.stdout.write(
    [
      "usage: npm run bench:sip -- [options]",
      '  --rates "R1 R2 ..."  ramp steps, registrations/s (run.sh default: 1000 2000 ... 12000)',
      "  --duration S         seconds per step (run.sh default 20)",
      "  --refine N           bisection steps between last pass and first fail (run.sh default 2)",
      "  --transport u1|t1    SIPp over UDP, or over one TCP connection (default u1)",
      '  --quick              smoke run: --duration 5 --rates "500 1000 2000" --refine 0,',
      "                       and BENCHMARKS.md left alone (unless --write)",
      "  --sip-port P         sipext's SIP port (default 5090; Kamailio uses 5070, SIPp 5080)",
      "  --no-install         do not let run.sh apt-get Kamailio/SIPp",
      "  --skip-kamailio | --skip-sipext | --skip-memory   leave a part out",
      "  --bindings N         bindings in the memory measurement (default 100000)",
      "  --profile            run sipext under `node --cpu-prof` and print its top self-time",
      "                       functions (the figures are then not the benchmark's: no write)",
      "  --keep               keep the temp dir (data, run.sh workdirs, results.tsv, logs)",
      "  --write | --no-write update BENCHMARKS.md or not (default: write unless --quick/--profile)",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

const quick = args.quick;
const rates = args.rates ?? (quick ? "500 1000 2000" : undefined);
if (rates !== undefined && !/^\s*\d+(\s+\d+)*\s*$/.test(rates))
  throw new Error('--rates must be whole numbers separated by spaces, e.g. "1000 2000 3000"');
const duration = wholeOption("duration", args.duration, 1) ?? (quick ? 5 : undefined);
const refine = wholeOption("refine", args.refine, 0) ?? (quick ? 0 : undefined);
const transport = args.transport ?? "u1";
if (transport !== "u1" && transport !== "t1") throw new Error("--transport must be u1 or t1");
const sipPort = wholeOption("sip-port", args["sip-port"], 1) ?? 5090;
const bindings = wholeOption("bindings", args.bindings, 1) ?? 100_000;
const write =
  args["no-write"] || args.profile
    ? false
    : (args.write ?? (!quick && !args["skip-kamailio"] && !args["skip-sipext"]));

/** SIPp options given to both ramps, identical. */
const rampOptions: string[] = ["--transport", transport];
if (rates !== undefined) rampOptions.push("--rates", rates.trim().replace(/\s+/g, " "));
if (duration !== undefined) rampOptions.push("--duration", String(duration));
if (refine !== undefined) rampOptions.push("--refine", String(refine));

const commandLine = [
  "npm run bench:sip",
  ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2).map(shellQuote)] : []),
].join(" ");

// ---------------------------------------------------------------------------------------------
// Child processes: each one is tracked and stopped with its descendants (by pid) on the way out.

const log = logger("bench:sip");

let tempRoot: string | undefined;

async function cleanup(): Promise<void> {
  await stopAllChildren();
  if (tempRoot && !args.keep) rmSync(tempRoot, { recursive: true, force: true });
  tempRoot = undefined;
}

stopChildrenOnExit(log, cleanup, () => {
  if (tempRoot && !args.keep) rmSync(tempRoot, { recursive: true, force: true });
});

const nodeChild = (label: string, nodeArgs: string[], script: string[], env: NodeJS.ProcessEnv) =>
  new Child(
    label,
    process.execPath,
    [...nodeArgs, "--import", "tsx", "--import", "./bench/sip/orphan-guard.ts", ...script],
    { cwd: ROOT, env, stdinPipe: true },
  );

// ---------------------------------------------------------------------------------------------
// The machine

// ---------------------------------------------------------------------------------------------
// The ramps (run.sh) and their results.tsv

interface Step {
  bgBusyPct: number;
  rate: number;
  ok: number;
  failed: number;
  failPct: number;
  retrans: number;
  achieved: number;
  avgRtMs: number;
  sippCpuPct: number;
  registrarCpuPct: number;
  machineCpuPct: number;
  rssKb: number;
  pssKb: number;
  nproc: number;
  pass: boolean;
}

interface Ramp {
  label: string;
  /** run.sh's last line: the best achieved rate over the passing steps */
  perSecond: number;
  steps: Step[];
  best: Step | undefined;
  firstFail: Step | undefined;
  /** steps run.sh measured although the machine was still busy after waiting */
  busyWarnings: number;
  seconds: number;
}

function readResults(file: string): Step[] {
  const lines = readFileSync(file, "utf8").trim().split("\n");
  const head = (lines[0] ?? "").split("\t");
  const col = (cells: string[], name: string) => {
    const v = cells[head.indexOf(name)];
    return v === undefined || v === "NA" ? Number.NaN : Number(v);
  };
  return lines.slice(1).map((l) => {
    const c = l.split("\t");
    return {
      bgBusyPct: col(c, "bg_busy_pct"),
      rate: col(c, "rate_target"),
      ok: col(c, "ok"),
      failed: col(c, "failed"),
      failPct: col(c, "fail_pct"),
      retrans: col(c, "retrans"),
      achieved: col(c, "achieved_per_s"),
      avgRtMs: col(c, "avg_rt_ms"),
      sippCpuPct: col(c, "sipp_cpu_pct"),
      registrarCpuPct: col(c, "registrar_cpu_pct"),
      machineCpuPct: col(c, "system_cpu_pct_ticksampled"),
      rssKb: col(c, "registrar_rss_kb"),
      pssKb: col(c, "registrar_pss_kb"),
      nproc: col(c, "registrar_nproc"),
      pass: c[head.indexOf("pass")] === "yes",
    };
  });
}

/** An upper bound on a ramp's wall time: every step waiting out run.sh's quiet check, plus apt. */
function rampBoundMs(): number {
  const steps = (rates ?? "1000 2000 3000 4000 5000 6000 7000 8000 9000 10000 11000 12000")
    .trim()
    .split(/\s+/).length;
  const d = Number(duration ?? 20);
  const perStep = 85 + d + 45 + 5; // quiet wait (40 × 2 s) + SIPp bound + pauses
  return ((steps + Number(refine ?? 2)) * perStep + 900) * 1000;
}

async function ramp(label: string, workdir: string, extra: string[]): Promise<Ramp> {
  const started = Date.now();
  const argv = [RUN_SH, "--workdir", workdir, ...extra, ...rampOptions];
  log(`${label}: bash ${argv.map(shellQuote).join(" ")}`);
  const child = new Child(`${label}-ramp`, "bash", argv, { cwd: ROOT, forwardStderr: true });
  let code: number | null;
  try {
    code = await within(rampBoundMs(), `${label} ramp`, child.exited);
  } catch (err) {
    await child.stop();
    throw err;
  }
  const last = child.stdoutLines.at(-1) ?? "";
  const m = /^(?:kamailio_)?register_auth_per_s=(\d+)$/.exec(last);
  if (code !== 0 || !m) throw child.failure(`exited with ${code}; last line ${JSON.stringify(last)}`);
  const steps = readResults(join(workdir, "results.tsv"));
  const passing = steps.filter((s) => s.pass);
  const best = passing.reduce<Step | undefined>((a, s) => (!a || s.achieved > a.achieved ? s : a), undefined);
  const runLog = readFileSync(join(workdir, "run.log"), "utf8");
  return {
    label,
    perSecond: Number(m[1]),
    steps,
    best,
    firstFail: steps.find((s) => !s.pass),
    busyWarnings: (runLog.match(/WARNING: machine still/g) ?? []).length,
    seconds: (Date.now() - started) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// sipext: a free port check, readiness (SIP OPTIONS), and one authenticated REGISTER

/** Sends `build(localPort)` over UDP and resolves with the first reply (undefined on timeout). */
function udpExchange(port: number, build: (localPort: number) => string, timeoutMs: number) {
  return new Promise<string | undefined>((resolveReply) => {
    const s = createSocket("udp4");
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      s.close();
      resolveReply(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    s.on("message", (msg) => done(msg.toString("utf8")));
    s.on("error", () => done(undefined));
    s.bind(0, "127.0.0.1", () => {
      s.send(build(s.address().port), port, "127.0.0.1");
    });
  });
}

const crlf = (lines: string[]) => `${lines.join("\r\n")}\r\n\r\n`;

async function waitForSip(server: Child, port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!server.running) throw server.failure("exited during start-up");
    if (Date.now() > deadline) throw server.failure("did not answer SIP OPTIONS within 60 s");
    const reply = await udpExchange(
      port,
      (lp) =>
        crlf([
          `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${lp};branch=z9hG4bK${randomBytes(6).toString("hex")};rport`,
          "Max-Forwards: 70",
          `From: <sip:bench@127.0.0.1>;tag=${randomBytes(4).toString("hex")}`,
          `To: <sip:127.0.0.1:${port}>`,
          `Call-ID: ${randomBytes(8).toString("hex")}@bench`,
          "CSeq: 1 OPTIONS",
          "Content-Length: 0",
        ]),
      500,
    );
    if (reply?.startsWith("SIP/2.0 200")) break;
    await sleep(200);
  }
  // TCP listens on the same port once startSipServer has returned.
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = createConnection({ host: "127.0.0.1", port }, () => {
        c.destroy();
        r(true);
      });
      c.on("error", () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw server.failure("does not accept TCP on the SIP port");
    await sleep(200);
  }
}

/** One REGISTER → 401 → REGISTER with MD5 digest → 200, as SIPp does it, for user n. */
async function registerOnce(port: number, n: number): Promise<void> {
  const user = userOf(n);
  const domain = domainOf(((n - 1) % DOMAINS) + 1);
  const callId = `${randomBytes(8).toString("hex")}@bench`;
  const tag = randomBytes(4).toString("hex");
  const request = (lp: number, cseq: number, auth?: string) =>
    crlf([
      `REGISTER sip:${domain} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${lp};branch=z9hG4bK${randomBytes(6).toString("hex")};rport`,
      "Max-Forwards: 70",
      `From: <sip:${user}@${domain}>;tag=${tag}`,
      `To: <sip:${user}@${domain}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:${user}@127.0.0.1:${lp};transport=UDP>`,
      "Expires: 60",
      ...(auth ? [`Authorization: ${auth}`] : []),
      "User-Agent: bench-sip-check",
      "Content-Length: 0",
    ]);
  const first = await udpExchange(port, (lp) => request(lp, 1), 3_000);
  const realm = /realm="([^"]+)"/.exec(first ?? "")?.[1];
  const nonce = /nonce="([^"]+)"/.exec(first ?? "")?.[1];
  if (!first?.startsWith("SIP/2.0 401") || !realm || !nonce)
    throw new Error(`sipext did not challenge a REGISTER: ${JSON.stringify(first?.split("\r\n")[0])}`);
  const md5 = (s: string) => createHash("md5").update(s).digest("hex");
  const uri = `sip:127.0.0.1:${port}`; // as SIPp: the address sent to, not the Request-URI
  const cnonce = randomBytes(4).toString("hex");
  const response = md5(
    `${md5(`${user}:${realm}:${passwordOf(n)}`)}:${nonce}:00000001:${cnonce}:auth:${md5(`REGISTER:${uri}`)}`,
  );
  const auth = `Digest username="${user}",realm="${realm}",nonce="${nonce}",uri="${uri}",response="${response}",algorithm=MD5,qop=auth,nc=00000001,cnonce="${cnonce}"`;
  const second = await udpExchange(port, (lp) => request(lp, 2, auth), 3_000);
  if (!second?.startsWith("SIP/2.0 200"))
    throw new Error(`sipext refused the seeded ${user}: ${JSON.stringify(second?.split("\r\n")[0])}`);
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? "n/a" : n.toLocaleString("en-US");
const mib = (kb: number | undefined) =>
  kb === undefined || Number.isNaN(kb) ? "n/a" : `${(kb / 1024).toFixed(0)} MiB`;

function busySummary(r: Ramp): string {
  const bg = r.steps.map((s) => s.bgBusyPct).filter((v) => !Number.isNaN(v));
  const max = bg.length ? Math.max(...bg) : Number.NaN;
  const quiet = bg.filter((v) => v < 10).length;
  return `${quiet}/${bg.length} steps started on a quiet machine (< 10 % busy); busiest start ${fmt(max)} %${
    r.busyWarnings ? `; ${r.busyWarnings} measured busy after run.sh's 80 s wait` : ""
  }`;
}

function rampLine(r: Ramp): string {
  const b = r.best;
  if (!b) return `${r.label}: no passing step`;
  const fail = r.firstFail
    ? `first failing target ${fmt(r.firstFail.rate)}/s (${r.firstFail.failPct} % failed)`
    : "every step passed";
  return (
    `${r.label}: ${fmt(r.perSecond)} reg/s (target ${fmt(b.rate)}/s; ${fail}) | ` +
    `registrar CPU ${fmt(b.registrarCpuPct)} % of a core, RSS ${mib(b.rssKb)} (PSS ${mib(b.pssKb)}, ` +
    `${fmt(b.nproc)} proc) | SIPp CPU ${fmt(b.sippCpuPct)} % | avg response ${b.avgRtMs} ms`
  );
}

function stepsTable(r: Ramp): string[] {
  return [
    `| ${r.label} target/s | achieved/s | failed % | avg rt ms | registrar CPU % | SIPp CPU % | RSS MiB | machine busy before % | pass |`,
    "|---:|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ...r.steps.map(
      (s) =>
        `| ${fmt(s.rate)} | ${fmt(s.achieved)} | ${s.failPct} | ${s.avgRtMs} | ${fmt(s.registrarCpuPct)} | ` +
        `${fmt(s.sippCpuPct)} | ${(s.rssKb / 1024).toFixed(0)} | ${fmt(s.bgBusyPct)} | ${s.pass ? "yes" : "no"} |`,
    ),
  ];
}

interface Report {
  machine: Machine;
  busyAtStart: number;
  loadAtStart: string;
  othersAtStart: string[];
  kamailio: Ramp | undefined;
  sipext: Ramp | undefined;
  memory: MemoryResult | undefined;
  seed: SeedResult;
}

function ratioOf(r: Report): number | undefined {
  if (!r.kamailio || !r.sipext || r.kamailio.perSecond === 0) return undefined;
  return r.sipext.perSecond / r.kamailio.perSecond;
}

/** When a ramp passed every step its limit is unknown, and the ratio only a bound. */
function ratioCaveat(r: Report): string | undefined {
  const k = r.kamailio && !r.kamailio.firstFail;
  const s = r.sipext && !r.sipext.firstFail;
  if (k && s)
    return "neither ramp reached its limit (every step passed): the ratio means nothing; extend --rates";
  if (k) return "Kamailio passed every step: its limit is higher, so the true ratio is LOWER; extend --rates";
  if (s) return "sipext passed every step: its limit is higher, so the true ratio is higher; extend --rates";
  return undefined;
}

function section(r: Report): string {
  const ratio = ratioOf(r);
  const k = r.kamailio as Ramp;
  const s = r.sipext as Ramp;
  const row = (x: Ramp, name: string) =>
    `| ${name} | **${fmt(x.perSecond)}** | ${fmt(x.best?.registrarCpuPct)} | ${mib(x.best?.rssKb)} (PSS ${mib(
      x.best?.pssKb,
    )}, ${fmt(x.best?.nproc)} proc) | ${x.firstFail ? `${fmt(x.firstFail.rate)} (${x.firstFail.failPct} % failed)` : "none"} |`;
  const m = r.memory;
  return [
    SECTION_BEGIN,
    "## SIP registrar (npm run bench:sip)",
    "",
    `- Command: \`${commandLine}\` — SIPp options given to both ramps: \`${rampOptions.map(shellQuote).join(" ")}\` ` +
      `(unset ones are ${"`run.sh`"}'s defaults); both ramps by \`/work/shared/bench/kamailio/run.sh\`, one after the other.`,
    `- Date: ${r.machine.date}`,
    `- Machine: ${r.machine.nproc} cores (${r.machine.cpu}), ${r.machine.ramGiB} GiB RAM, Linux ${r.machine.kernel}, ` +
      `node ${r.machine.node}, Kamailio ${r.machine.kamailio} (run.sh defaults: 4 children, \`-x tlsf\`), SIPp ${r.machine.sipp}; ` +
      "SIPp and the registrar share the 2 cores.",
    `- Load: ${r.busyAtStart} % of all cores busy when the run started (load average ${r.loadAtStart}); ` +
      `Kamailio ramp: ${busySummary(k)}; sipext ramp: ${busySummary(s)}.`,
    `- Users: ${fmt(r.seed.extensions)} extensions in ${r.seed.customers} customers, the user set of \`users.awk\` ` +
      `(sipext on embedded SQLite, \`SIPEXT_REGISTRAR_DOMAIN=${REGISTRAR_DOMAIN}\`).`,
    "",
    "Highest sustained rate of authenticated registrations (REGISTER → 401 → REGISTER with digest → 200, < 0.1 % failed, ≥ 95 % of the target rate); CPU and memory at that step:",
    "",
    "| registrar | registrations/s | registrar CPU % of one core | RSS | first failing target/s |",
    "|---|---:|---:|---|---|",
    row(k, `Kamailio ${r.machine.kamailio}`),
    row(s, "sipext"),
    "",
    `**sipext / Kamailio = ${ratio === undefined ? "n/a" : ratio.toFixed(2)}** (target ≥ ${RATIO_TARGET.toFixed(2)}: ${
      ratio !== undefined && ratio >= RATIO_TARGET ? "met" : "not met"
    })${ratioCaveat(r) ? ` — **caveat: ${ratioCaveat(r)}**` : ""}.`,
    "",
    "One run's ratio is fragile: on these shared 2-core machines Kamailio's highest passing step moves a lot " +
      "from run to run (past its capacity, or at one hiccup, it falls into a retransmission storm and fails the " +
      "step), so compare several runs; sipext's figure moves less.",
    "",
    "Not the same work: Kamailio (`kamailio.cfg` of run.sh) answers REGISTER statelessly and keeps its " +
      "location table in memory only (usrloc `db_mode` 0); sipext answers in RFC 3261 server transactions, " +
      "kept 32–64 s over UDP to absorb retransmissions (Timer J, two per registration: the RSS above grows " +
      "with the rate for that reason), and writes every binding to SQLite behind its memory index.",
    "",
    ...(m
      ? [
          `Memory per binding in the location index: **${fmt(m.bytesPerBinding)} bytes** ` +
            `(target ≤ ${MEMORY_TARGET_BYTES}: ${m.bytesPerBinding <= MEMORY_TARGET_BYTES ? "met" : "not met"}) — ` +
            `V8 heap used after gc, ${fmt(m.bindings)} live bindings (one per extension, each parsed from a REGISTER ` +
            "datagram as in production, a third with `+sip.instance`, 8 user agents shared), `LocationService` " +
            "over a no-op binding store, write queue flushed (`bench/sip/memory.ts`).",
          "",
        ]
      : []),
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

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  if (!existsSync(RUN_SH)) throw new Error(`${RUN_SH} not found`);
  if (!args["skip-sipext"] && !(await portFree(sipPort)))
    throw new Error(`port ${sipPort} (UDP or TCP on 127.0.0.1) is in use: pick another with --sip-port`);
  tempRoot = mkdtempSync(join(tmpdir(), "sipext-bench-sip-"));
  const dataDir = join(tempRoot, "data");
  log(`temp dir ${tempRoot}${args.keep ? " (kept)" : ""}`);

  const busyAtStart = await machineBusy();
  const loadAtStart = loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");
  const othersAtStart = otherLoad();
  log(`machine: ${busyAtStart} % of all cores busy, load average ${loadAtStart}`);
  for (const l of othersAtStart) log(`  busy elsewhere: ${l}`);

  // 1. Seed, in its own process; it closes the database before exiting.
  const serverEnv = childEnv({
    SIPEXT_DATA_DIR: dataDir,
    SIPEXT_REGISTRAR_DOMAIN: REGISTRAR_DOMAIN,
    SIPEXT_SIP_HOST: "127.0.0.1",
    SIPEXT_SIP_PORT: String(sipPort),
    SIPEXT_HTTP_HOST: "127.0.0.1",
    SIPEXT_HTTP_PORT: "0",
    SIPEXT_LOG_LEVEL: "warn",
  });
  log(`seeding ${fmt(USERS)} extensions in ${DOMAINS} customers (users.awk's set)`);
  const seed = await nodeChild(
    "seed",
    [],
    ["bench/sip/seed.ts", String(USERS), String(DOMAINS)],
    serverEnv,
  ).result<SeedResult>(RESULT_PREFIX, 15 * 60_000);
  log(`  seeded in ${(seed.ms / 1000).toFixed(1)} s`);

  // 2. Kamailio's ramp (run.sh starts Kamailio, installing it from apt the first time).
  let kamailio: Ramp | undefined;
  if (!args["skip-kamailio"]) {
    kamailio = await ramp("kamailio", join(tempRoot, "kam"), args["no-install"] ? ["--no-install"] : []);
    log(rampLine(kamailio));
  }

  // 3. sipext's ramp.
  let sipext: Ramp | undefined;
  let profile: ProfileSummary | undefined;
  let profileFile: string | undefined;
  if (!args["skip-sipext"]) {
    const profDir = join(tempRoot, "cpuprof");
    const nodeArgs = args.profile ? cpuProfArgs(profDir) : [];
    const server = nodeChild("sipext", nodeArgs, ["src/cli/main.ts", "serve"], serverEnv);
    try {
      // SIPEXT_LOG_LEVEL=warn hides the "SIP listening" info line: readiness is a 200 to OPTIONS.
      await waitForSip(server, sipPort);
      log(`sipext (pid ${server.pid}) answers on udp+tcp 127.0.0.1:${sipPort}`);
      await registerOnce(sipPort, 1);
      await registerOnce(sipPort, USERS);
      log("  user000001 and the last user register with their digest: the seed matches");
      sipext = await ramp("sipext", join(tempRoot, "sipext"), [
        "--no-kamailio",
        "--no-install",
        "--target",
        `127.0.0.1:${sipPort}`,
        "--pid",
        String(server.pid),
      ]);
      log(rampLine(sipext));
    } finally {
      await server.stop();
    }
    if (args.profile) {
      profileFile = keepProfile(profDir, join(tmpdir(), "sipext-bench-sip.cpuprofile"));
      if (!profileFile) log("no .cpuprofile was written");
      else profile = summarize(profileFile, 30);
    }
  }

  // 4. Memory per binding.
  let memory: MemoryResult | undefined;
  if (!args["skip-memory"]) {
    log(`memory: ${fmt(bindings)} bindings in a LocationService (node --expose-gc)`);
    memory = await nodeChild(
      "memory",
      ["--expose-gc"],
      ["bench/sip/memory.ts", String(bindings)],
      childEnv({}),
    ).result<MemoryResult>(RESULT_PREFIX, 10 * 60_000);
  }

  // 5. Report.
  const report: Report = {
    machine: machine(),
    busyAtStart,
    loadAtStart,
    othersAtStart,
    kamailio,
    sipext,
    memory,
    seed,
  };
  const ratio = ratioOf(report);
  const out: string[] = [""];
  out.push(
    `machine: ${report.machine.nproc} cores ${report.machine.cpu}, ${report.machine.ramGiB} GiB, node ${report.machine.node}, Kamailio ${report.machine.kamailio}, SIPp ${report.machine.sipp}`,
  );
  out.push(`load: ${busyAtStart} % busy at start (load average ${loadAtStart})`);
  if (kamailio) out.push(rampLine(kamailio), `  ${busySummary(kamailio)}`);
  if (sipext) out.push(rampLine(sipext), `  ${busySummary(sipext)}`);
  if (ratio !== undefined)
    out.push(
      `ratio sipext/Kamailio: ${ratio.toFixed(2)} (target ≥ ${RATIO_TARGET}: ${ratio >= RATIO_TARGET ? "met" : "NOT met"})`,
    );
  const caveat = ratioCaveat(report);
  if (caveat) out.push(`WARNING: ${caveat}`);
  if (memory)
    out.push(
      `memory per binding: ${memory.bytesPerBinding} bytes (${fmt(memory.heapAfter - memory.heapBefore)} bytes for ${fmt(memory.bindings)}; target ≤ ${MEMORY_TARGET_BYTES}: ${memory.bytesPerBinding <= MEMORY_TARGET_BYTES ? "met" : "NOT met"})`,
    );
  if (profile && profileFile)
    out.push("", `sipext CPU profile (${profileFile}), under load:`, formatSummary(profile));
  process.stderr.write(`${out.join("\n")}\n\n`);
  if (kamailio) process.stdout.write(`kamailio_register_auth_per_s=${kamailio.perSecond}\n`);
  if (sipext) process.stdout.write(`sipext_register_auth_per_s=${sipext.perSecond}\n`);
  if (ratio !== undefined) process.stdout.write(`ratio_sipext_kamailio=${ratio.toFixed(3)}\n`);
  if (memory) process.stdout.write(`bytes_per_binding=${memory.bytesPerBinding}\n`);

  if (write && kamailio && sipext) {
    writeBenchmarkSection(BENCHMARKS_MD, "sip", section(report));
    log(`updated the SIP registrar section of ${BENCHMARKS_MD}`);
  } else {
    log("BENCHMARKS.md left alone (--quick, --profile, --no-write or a part skipped; --write to record)");
  }
  if (args.keep && tempRoot) {
    mkdirSync(tempRoot, { recursive: true });
    writeFileSync(join(tempRoot, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  }
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (err: unknown) => {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await cleanup();
    process.exit(1);
  });
