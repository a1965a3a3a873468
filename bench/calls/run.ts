// `npm run bench:calls [-- options]`
//
// Calls through sipext's SIP proxy against Kamailio 5.6 as the same kind of proxy
// (bench/calls/kamailio-proxy.cfg), in one run, with the same SIPp options:
//   1. seeds the user set of /work/shared/bench/kamailio/users.awk into sipext
//      (bench/seed-user-set.ts, in its own process) and into a Kamailio subscriber table (SQLite);
//   2. Kamailio: starts it, registers every callee from the callee SIPp's port (REGISTER → 401 →
//      REGISTER with digest → 200), starts the callee SIPp (sipp_uas.xml) on that port and ramps
//      the call rate of the caller SIPp (sipp_uac.xml) step by step, as run.sh ramps registrations;
//   3. sipext: the same;
//   4. latency at half of sipext's highest rate: INVITE → 200 at the caller, straight to the
//      callee and through each proxy (each started again after its ramp), timed from a packet
//      capture (pcap.ts);
//   5. prints both rates, their ratio, CPU, memory and latency, and rewrites its section of
//      BENCHMARKS.md.
// What sipext is called at, and Kamailio: see --help (--auth) and BENCHMARKS.md.
// With --workers N (CONTRACT §15, #15), step 3 is sipext on PostgreSQL instead (one fresh schema,
// seeded once), ramped with SIPEXT_WORKERS=1 and then =N; no latency step; section calls-workers.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCHMARKS_MD, markdownTable, recordSection } from "../benchmarks-md.js";
import { cpuProfArgs, logProfile } from "../cpuprofile-top.js";
import {
  aptInstall,
  loadAtStart,
  loadText,
  machine,
  otherBenchmarks,
  waitForIdle,
  waitQuiet,
} from "../machine.js";
import { commandLineOf, flags, parseOptions, values, wholeOption } from "../options.js";
import { dropSchema, emptyTables, newSchemaUrl, pgVersion, schemaOf } from "../pg-schema.js";
import * as proc from "../proc.js";
import * as ramps from "../ramp-report.js";
import type { SeedResult } from "../seed-user-set.js";
import { waitForSip } from "../sip-probe.js";
import { DOMAINS, domainOf, passwordOf, REGISTRAR_DOMAIN, tenantOf, USERS, userOf } from "../user-set.js";
import { type WorkersRamp, workersEnv, workersSection, workersVerdict } from "../workers-report.js";
import { inviteTo200, quantile } from "./pcap.js";
import { type SippTarget, sipp, sippArgs, sippRun } from "./sipp.js";

const { fmt, memory } = ramps;
const HERE = dirname(fileURLToPath(import.meta.url));
/** users.awk's tools: the register CSV (gen_csv.sh) and Kamailio's subscriber table (seed_subscribers.sh) */
const SHARED = "/work/shared/bench/kamailio";
const log = proc.logger("bench:calls");
/** SIPEXT_DIRECT_DOMAIN of the benchmark: host of the public direct addresses */
const DIRECT_DOMAIN = "direct.example.test";
const DEFAULT_RATES = "500 1000 1500 2000 2500 3000 4000 5000 6000 7000 8000 9000 10000 12000 14000 16000";

const HELP = [
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
  "  --workers N           sipext on PostgreSQL (a fresh schema of postgres://postgres@127.0.0.1:5432/test,",
  "                        seeded once, dropped after) ramped with SIPEXT_WORKERS=1 and then =N (no",
  "                        latency step); its own section of BENCHMARKS.md (calls-workers)",
  "",
];

const OPTIONS = {
  ...ramps.RAMP_OPTIONS,
  ...flags("auth", "skip-latency", "wait-idle", "no-wait-idle"),
  ...values("hold", "users", "latency-duration", "latency-rate", "children", "kam-args", "shm", "ports"),
  ...values("benchmarks-md", "workers"),
};

const o = parseOptions("calls", OPTIONS, HELP, (a) => {
  const ports = (a.ports ?? "5270,5290,5282,5281").split(",").map(Number);
  if (ports.length !== 4 || ports.some((p) => !Number.isInteger(p) || p < 1024 || p > 65535))
    throw new Error("--ports takes four ports from 1024 to 65535: Kamailio,sipext,callee,caller");
  const [kamailio = 0, sipext = 0, uas = 0, uac = 0] = ports;
  const duration = wholeOption("duration", a.duration, 1) ?? (a.quick ? 4 : 20);
  const partial = a["skip-kamailio"] || a["skip-sipext"] || a["skip-latency"];
  return {
    ...a,
    rates: ramps.ratesOption(a.rates ?? (a.quick ? "100 200 400" : DEFAULT_RATES)),
    duration,
    refine: wholeOption("refine", a.refine, 0) ?? (a.quick ? 0 : 2),
    transport: ramps.transportOption(a.transport),
    users: wholeOption("users", a.users, DOMAINS) ?? (a.quick ? 500 : USERS),
    latencyDuration: wholeOption("latency-duration", a["latency-duration"], 1) ?? duration,
    latencyRate: wholeOption("latency-rate", a["latency-rate"], 1),
    kamChildren: wholeOption("children", a.children, 1) ?? 4,
    kamArgs: (a["kam-args"] ?? "-x tlsf").split(/\s+/).filter(Boolean),
    shmMb: wholeOption("shm", a.shm, 64) ?? 4096,
    hold: wholeOption("hold", a.hold, 0) ?? 0,
    ports: { kamailio, sipext, uas, uac },
    waitIdle: !a["no-wait-idle"] && (a["wait-idle"] ?? !a.quick),
    benchmarksMd: resolve(a["benchmarks-md"] ?? BENCHMARKS_MD),
    write: !a["no-write"] && (a.write ?? (!a.quick && !partial && !a.profile)),
    registerRate: a.quick ? 500 : 1000,
    workers: wholeOption("workers", a.workers, 2),
  };
});
const { ports } = o;
/** SIPp options of every call step, identical for both proxies (and the latency baselines). */
const CALL_OPTIONS = sippArgs({ t: o.transport, d: o.hold, max_non_invite_retrans: 5, buff_size: 1048576 });
/** Upper bound of one proxy phase (ramp + latency), seconds: each step's quiet wait, SIPp bound and pauses. */
const PHASE_S = (o.rates.length + o.refine) * (o.duration + 175) + 2 * (o.latencyDuration + 170) + 900;

// ---------------------------------------------------------------------------------------------
// The user set (SIPp injection files) and the proxies

/**
 * register: user;domain;password of every callee. kamCallees: the calls to Kamailio and straight to
 * the callee SIPp, Request-URI user;host (+ caller;password with --auth). sipextCallees: the calls
 * to sipext, at the direct addresses the seed wrote (or as Kamailio's, with --auth).
 */
function writeUserFiles(dir: string, sipextDirectCsv: string | undefined) {
  const register = join(dir, "register.csv");
  proc.sh("bash", [join(SHARED, "gen_csv.sh"), register, String(o.users), String(DOMAINS)]);
  const kamCallees = join(dir, "callees-kamailio.csv");
  const lines = ["SEQUENTIAL"];
  for (let n = 1; n <= o.users; n++) {
    const callee = `${userOf(n)};${domainOf(tenantOf(n))}`;
    // With --auth, user n is called by another extension of its customer: n + D (wrapping round).
    const c = ((n - 1 + DOMAINS) % o.users) + 1;
    lines.push(o.auth ? `${callee};${userOf(c)};${passwordOf(c)}` : callee);
  }
  writeFileSync(kamCallees, `${lines.join("\n")}\n`);
  return { register, kamCallees, sipextCallees: o.auth || !sipextDirectCsv ? kamCallees : sipextDirectCsv };
}
type Files = ReturnType<typeof writeUserFiles>;

type Proxy = { label: "Kamailio" | "sipext"; port: number; child: proc.Child; callees: string };

async function startKamailio(dir: string, files: Files): Promise<Proxy> {
  mkdirSync(dir, { recursive: true });
  // Kamailio 5.6's `version` + `subscriber` schema (the package's SQL) and the users, plaintext.
  const db = join(dir, "subscribers.sqlite");
  const out = proc.sh("bash", [join(SHARED, "seed_subscribers.sh"), db, `${o.users}`, `${DOMAINS}`], 120_000);
  const rows = proc.sh("sqlite3", [db, "select count(*) from subscriber"]);
  if (Number(rows) !== o.users) throw new Error(`Kamailio subscribers: ${rows} rows, not ${o.users}\n${out}`);
  const cfg = join(HERE, "kamailio-proxy.cfg");
  const defs = [`KAM_PORT=${ports.kamailio}`, `CHILDREN=${o.kamChildren}`, `TCP_CHILDREN=${o.kamChildren}`];
  defs.push(`DBURL="sqlite://${db}"`, `CTLSOCK="unix:${join(dir, "kamailio_ctl")}"`);
  if (o.auth) defs.push("WITH_AUTH");
  const args = defs.flatMap((d) => ["-A", d]);
  const check = proc.sh("kamailio", ["-c", "-f", cfg, ...args], 30_000);
  if (!/config file ok|Listening on/i.test(check) || /error/i.test(check.replace(/debug=\S+/g, "")))
    throw new Error(`kamailio -c rejected ${cfg}:\n${check.slice(-2000)}`);
  // -DD: foreground (so the pid is the main process), children still forked; -E: log to stderr.
  const argv = ["-DD", "-E", "-f", cfg, "-m", String(o.shmMb), "-M", "16", ...o.kamArgs, ...args];
  const child = new proc.Child("kamailio", "setpriv", proc.bounded(PHASE_S, "kamailio", argv));
  await waitForSip(child, ports.kamailio);
  const version = /^version:\s*(.*)/.exec(proc.sh("kamailio", ["-v"]))?.[1];
  log(
    `Kamailio (${version}) pid ${child.pid}: ${o.kamChildren} UDP + ${o.kamChildren} TCP workers, ` +
      `args "${o.kamArgs.join(" ")}", ${o.shmMb} MB shm, udp+tcp 127.0.0.1:${ports.kamailio}${o.auth ? ", WITH_AUTH" : ""}`,
  );
  return { label: "Kamailio", port: ports.kamailio, child, callees: files.kamCallees };
}

const DOMAINS_ENV = { SIPEXT_REGISTRAR_DOMAIN: REGISTRAR_DOMAIN, SIPEXT_DIRECT_DOMAIN: DIRECT_DOMAIN };
const sipextEnv = (dataDir: string, extra: Record<string, string> = {}) =>
  proc.sipextEnv(dataDir, ports.sipext, 0, { ...DOMAINS_ENV, ...extra });

async function startSipext(
  dataDir: string,
  files: Files,
  profDir: string | undefined,
  extra: Record<string, string> = {},
  workers = 1,
): Promise<Proxy> {
  const opts = { env: sipextEnv(dataDir, extra), boundS: PHASE_S, forwardStderr: true };
  const nodeArgs = profDir ? cpuProfArgs(profDir) : [];
  const child = proc.nodeChild("sipext", ["src/cli/main.ts", "serve"], { ...opts, nodeArgs });
  const deadline = Date.now() + 120_000;
  while (workers > 1 && proc.descendants(child.pid).length < workers) {
    if (!child.running || Date.now() > deadline) throw child.failure(`did not fork ${workers} workers`);
    await proc.sleep(200);
  }
  await waitForSip(child, ports.sipext);
  if (workers > 1) await proc.sleep(3_000); // the last workers' listeners
  log(`sipext pid ${child.pid} (${workers} worker(s)): udp+tcp 127.0.0.1:${ports.sipext}`);
  return { label: "sipext", port: ports.sipext, child, callees: files.sipextCallees };
}

// ---------------------------------------------------------------------------------------------
// SIPp: registrations, the callees, the steps of calls and the ramp

/** REGISTER every callee from the callee SIPp's port (so that calls come back to that port). */
async function registerCallees(proxy: Proxy, files: Files, dir: string): Promise<void> {
  const bound = o.users / o.registerRate + 60;
  const { child, stats, errors } = await sippRun(`${proxy.label} register`, dir, "register", bound, [
    `127.0.0.1:${proxy.port}`,
    ...sippArgs({ sf: join(HERE, "sipp_register_auth.xml"), inf: files.register }),
    ...sippArgs({ i: "127.0.0.1", p: ports.uas, t: o.transport, r: o.registerRate, m: o.users }),
    ...sippArgs({ timeout: `${Math.ceil(bound)}s`, recv_timeout: 5000, buff_size: 1048576 }),
    ...["-key", "expires", "3600"],
  ]);
  const errs = () => errors().map((e) => `\n    ${e}`);
  if (stats?.ok !== o.users)
    throw child.failure(`registered ${stats?.ok ?? 0} of ${o.users} with ${proxy.label}${errs().join("")}`);
  log(`${proxy.label}: ${o.users} callees registered from 127.0.0.1:${ports.uas} (${o.transport})`);
}

/** The callee SIPp: answers every INVITE on the port the callees registered from. */
async function startCallees(label: string, dir: string) {
  const callees = sipp(`${label} callees`, dir, "callees", 5, PHASE_S + 10, [
    ...sippArgs({ sf: join(HERE, "sipp_uas.xml"), i: "127.0.0.1", p: ports.uas, recv_timeout: 10000 }),
    ...sippArgs({ timeout: `${PHASE_S}s` }),
    ...CALL_OPTIONS,
  ]);
  // SIPp binds before it reads the scenario's first recv: give it a moment, then check it lives.
  await proc.sleep(1_000);
  if (!callees.child.running) throw callees.child.failure("exited at start");
  return callees;
}

/**
 * One load step: R calls/s for `seconds` to `t`, bounded in calls (-m) and time (-timeout,
 * timeout(1)); the CPU of the proxy's process tree, of both SIPp and of the machine over the step,
 * the UDP datagrams dropped, and the proxy's memory at its end.
 */
async function callStep(t: SippTarget, rate: number, seconds: number, dir: string) {
  const calls = rate * seconds;
  const quiet = await waitQuiet(log);
  const others = otherBenchmarks().length;
  const sample = () => ({
    proxy: t.pid ? proc.treeTicks(t.pid) : 0,
    callees: proc.treeTicks(t.callees.pid),
    // a SIPp run that ended is in the ticks of the children we reaped
    callers: proc.reapedChildTicks(),
    drops: { proxy: proc.udpDrops(t.port), callees: proc.udpDrops(ports.uas) },
    machine: proc.machineJiffies(),
    wall: performance.now(),
  });
  const a = sample();
  const run = await sippRun(`${t.label} callers ${rate}/s`, dir, "callers", seconds + 30, [
    `127.0.0.1:${t.port}`,
    ...sippArgs({ sf: join(HERE, o.auth ? "sipp_uac_auth.xml" : "sipp_uac.xml"), inf: t.csv }),
    ...sippArgs({ i: "127.0.0.1", p: ports.uac, recv_timeout: 5000, r: rate, m: calls }),
    ...sippArgs({ timeout: `${seconds + 30}s` }),
    ...CALL_OPTIONS,
  ]);
  const b = sample();
  const mem = t.pid ? proc.treeMemKb(t.pid) : { rssKb: Number.NaN, pssKb: Number.NaN, nproc: 0 };
  const s = run.stats;
  if (!s) throw run.child.failure("wrote no statistics");
  const pct = (ticks: number) => Math.round((100 * ticks) / proc.HZ() / ((b.wall - a.wall) / 1000));
  const achieved = s.elapsedS > 0 ? Math.round(s.ok / s.elapsedS) : 0;
  const pass = s.ok >= 0.999 * calls && achieved >= 0.95 * rate;
  const proxy = (v: number) => (t.pid ? v : Number.NaN);
  return {
    rate,
    calls,
    ok: s.ok,
    failed: s.failed,
    failPct: Number(((100 * (calls - s.ok)) / calls).toFixed(3)),
    retrans: s.retrans,
    achieved,
    avgRtMs: Number(s.avgRtMs.toFixed(2)),
    cpuPct: proxy(pct(b.proxy - a.proxy)),
    /** the proxy's CPU time per completed call, µs */
    usPerCall: proxy(s.ok > 0 ? Math.round(((b.proxy - a.proxy) / proc.HZ() / s.ok) * 1e6) : Number.NaN),
    callerCpuPct: pct(b.callers - a.callers),
    calleeCpuPct: pct(b.callees - a.callees),
    machinePct: proc.busyPct(a.machine, b.machine),
    ...mem,
    proxyDrops: proxy(b.drops.proxy - a.drops.proxy),
    calleeDrops: b.drops.callees - a.drops.callees,
    busyBefore: quiet.busy,
    busyWarned: quiet.warned,
    /** other benchmarks or test runs on the machine when the step started */
    others,
    pass,
    errors: pass ? [] : run.errors(),
  };
}
type CallStep = Awaited<ReturnType<typeof callStep>>;

const stepLine = (label: string, s: CallStep) =>
  `${label} ${String(s.rate).padStart(5)}/s: ok ${s.ok}/${s.calls} (${s.failPct} % failed) retrans ${s.retrans} ` +
  `achieved ${s.achieved}/s (UDP drops proxy ${s.proxyDrops} callees ${s.calleeDrops}) avg INVITE→200 ${s.avgRtMs} ms | ` +
  `proxy CPU ${s.cpuPct} % (${s.usPerCall} µs/call) callers ${s.callerCpuPct} % callees ${s.calleeCpuPct} % ` +
  `machine ${s.machinePct} % (tick-sampled) | proxy RSS ${memory(s)} | busy before ${s.busyBefore} %` +
  `${s.others ? `, ${s.others} other benchmark/test process(es) running` : ""} | ${s.pass ? "pass" : "FAIL"}`;

/** The rates in turn until one fails, then `refine` bisection steps between the last pass and it. */
async function ramp(t: SippTarget, dir: string) {
  const steps: CallStep[] = [];
  const passes = async (rate: number) => {
    const s = await callStep(t, rate, o.duration, join(dir, `rate_${rate}`));
    steps.push(s);
    log(stepLine(t.label, s));
    for (const e of s.errors) log(`    ${e}`);
    return s.pass;
  };
  let [lo, hi] = [0, 0];
  for (const r of o.rates) {
    if (!(await passes(r))) {
      hi = r;
      break;
    }
    lo = r;
    await proc.sleep(2_000);
  }
  const grain = hi - lo > 200 ? 50 : 10;
  for (let i = 0; i < o.refine && lo > 0 && hi > 0; i++) {
    const mid = Math.floor((lo + hi) / 2 / grain) * grain;
    if (mid <= lo || mid >= hi) break;
    await proc.sleep(2_000);
    if (await passes(mid)) lo = mid;
    else hi = mid;
  }
  return ramps.rampOf(t.label, steps);
}

const rampSummary = (r: ramps.Ramp<CallStep>) =>
  ramps.rampLine(
    r,
    "calls/s",
    (b) =>
      `proxy CPU ${fmt(b.cpuPct)} % of a core (${fmt(b.usPerCall)} µs/call), RSS ${memory(b)} | ` +
      `SIPp CPU callers ${fmt(b.callerCpuPct)} % callees ${fmt(b.calleeCpuPct)} %`,
  );

// ---------------------------------------------------------------------------------------------
// Latency: INVITE → 200 at the caller, from a packet capture of the caller's port

const fmtMs = (us: number | undefined) =>
  us === undefined || Number.isNaN(us) ? "n/a" : `${(us / 1000).toFixed(3)} ms`;

async function latencyRun(t: SippTarget, rate: number, dir: string) {
  mkdirSync(dir, { recursive: true });
  const pcap = join(dir, "caller.pcap");
  const tcpdump = ["-i", "lo", "-n", "-s", "0", "-B", "65536", "-w", pcap, `port ${ports.uac}`];
  const bounded = proc.bounded(o.latencyDuration + 200, "tcpdump", tcpdump);
  const dump = new proc.Child(`${t.label} tcpdump`, "setpriv", bounded);
  await dump.waitFor((l) => (/listening on/i.test(l) ? l : undefined), 15_000, "tcpdump to listen");
  const stopDump = () => dump.stop(10_000, "SIGINT");
  const step = await callStep(t, rate, o.latencyDuration, join(dir, "step")).finally(stopDump);
  const times = inviteTo200(pcap, ports.uac);
  const [p50Us, p99Us] = [quantile(times.micros, 0.5), quantile(times.micros, 0.99)];
  const dropped = dump.stderrTail.filter((line) => /packets/.test(line)).join("; ");
  log(
    `${t.label} at ${rate}/s: INVITE→200 p50 ${fmtMs(p50Us)} p99 ${fmtMs(p99Us)} over ${times.answered} calls ` +
      `(${step.ok} ok of ${step.calls}, ${step.failPct} % failed; tcpdump: ${dropped || "n/a"})`,
  );
  return { step, times, p50Us, p99Us };
}

/** The proxy's added latency: INVITE → 200 through it minus the same straight to the callee SIPp. */
async function addedLatency(t: SippTarget, files: Files, rate: number, dir: string) {
  const straight = { ...t, label: "direct", port: ports.uas, csv: files.kamCallees, pid: undefined };
  const direct = await latencyRun(straight, rate, join(dir, "direct"));
  await proc.sleep(2_000);
  const proxy = await latencyRun(t, rate, join(dir, "proxy"));
  const [p50Us, p99Us] = [proxy.p50Us - direct.p50Us, proxy.p99Us - direct.p99Us];
  const pair = (l: typeof proxy) => `${fmtMs(l.p50Us)} / ${fmtMs(l.p99Us)}`;
  log(
    `${t.label} added latency at ${rate}/s: p50 ${fmtMs(p50Us)} p99 ${fmtMs(p99Us)} (through ${pair(proxy)}, direct ${pair(direct)})`,
  );
  return { proxy, direct, p50Us, p99Us };
}
type Added = Awaited<ReturnType<typeof addedLatency>>;

// ---------------------------------------------------------------------------------------------
// BENCHMARKS.md

interface Report {
  machine: ReturnType<typeof machine>;
  start: Awaited<ReturnType<typeof loadAtStart>>;
  idle: Awaited<ReturnType<typeof waitForIdle>> | undefined;
  seed: SeedResult | undefined;
  kamailio: ramps.Ramp<CallStep> | undefined;
  sipext: ramps.Ramp<CallStep> | undefined;
  latencyRate: number | undefined;
  latency: Partial<Record<Proxy["label"], Added>>;
  loadAtEnd: string;
}

const ADDRESSING = {
  auth:
    "Authenticated calls on both: the callee's own address `sip:userNNNNNN@<customer domain>`, INVITE → 407 → ACK → INVITE with " +
    "`Proxy-Authorization` (MD5, qop=auth) from another user of the same domain; sipext checks the caller's extension " +
    "credentials, Kamailio runs `proxy_authorize` against its subscriber table (`-A WITH_AUTH`)",
  direct:
    "No authentication on either: sipext is called at each callee's public direct address " +
    `\`sip:direct.<hash>@${DIRECT_DOMAIN}\` (no 407 by design: one store lookup of the hash, then the location ` +
    'index), Kamailio at `sip:userNNNNNN@<domain>` with `lookup("location")` + `t_relay()` and no `proxy_authorize` — ' +
    "the same work: one lookup, Record-Route, stateful relay to every binding",
};

const LATENCY_COLUMNS =
  "proxy|added p50|added p99|through the proxy p50 / p99|direct p50 / p99|calls timed proxy / direct|failed %";

function section(r: Report, kamailio: ramps.Ramp<CallStep>, sipext: ramps.Ramp<CallStep>): string {
  const latencyRow = (name: Proxy["label"]) => {
    const a = r.latency[name];
    const pair = (x: Added["proxy"]) => `${fmtMs(x.p50Us)} / ${fmtMs(x.p99Us)}`;
    const timed = a && `${fmt(a.proxy.times.answered)} / ${fmt(a.direct.times.answered)}`;
    if (!a || !timed) return [name, "n/a", "n/a", "", "", "", ""];
    const added = [fmtMs(a.p50Us), fmtMs(a.p99Us)];
    return [name, ...added, pair(a.proxy), pair(a.direct), timed, `${a.proxy.step.failPct}`];
  };
  const waited = Math.round(r.idle?.waitedS ?? 0);
  const idle = !r.idle
    ? "no idle wait"
    : r.idle.idle
      ? `waited ${waited} s for a 1-minute load average < 1.0 held for a minute`
      : `NOT idle after waiting ${waited} s`;
  const all = [...kamailio.steps, ...sipext.steps];
  const hold = o.hold ? `${o.hold} ms → ` : "";
  return ramps.rampSection({
    name: "calls",
    title: "Calls through the proxy (npm run bench:calls)",
    command:
      `\`${commandLineOf("calls")}\` — ramp steps ${o.rates.join(", ")} calls/s, ${o.duration} s each, ${o.refine} ` +
      `bisection step(s) after the first failure; SIPp \`${CALL_OPTIONS.join(" ")}\` (callers also \`-recv_timeout 5000\`) ` +
      "for both proxies, one after the other.",
    machine: r.machine,
    kamailioSetup:
      `\`bench/calls/kamailio-proxy.cfg\`, ${o.kamChildren} UDP + ${o.kamChildren} TCP workers, ` +
      `\`${o.kamArgs.join(" ")}\`, ${o.shmMb} MB shm`,
    sharing: "both SIPp processes and the proxy share the 2 cores.",
    bullets: [
      `Load: ${idle}; load average ${r.start.load} at the start, ${r.loadAtEnd} at the end; ${r.start.busy} % of all cores ` +
        `busy when measuring began; ${all.filter((x) => x.busyWarned).length} step(s) started on a machine still ≥ 10 % busy ` +
        `after 120 s, ${all.filter((x) => x.others > 0).length} while another benchmark or test run was on the machine.`,
      `Calls: ${fmt(o.users)} callees (the user set of \`users.awk\`: ${DOMAINS} domains; sipext built and run as \`npm start\` runs it (\`dist/cli/main.js serve\`), on embedded SQLite with ` +
        `\`SIPEXT_REGISTRAR_DOMAIN=${REGISTRAR_DOMAIN}\`), all registered (REGISTER with digest, \`sipp_register_auth.xml\`) from the port of ` +
        `one callee SIPp (\`sipp_uas.xml\`: 180, 200 with SDP, ACK, BYE → 200), called round-robin by one caller SIPp (\`sipp_uac.xml\`: ` +
        `INVITE → (100) → 180 → 200 → ACK → ${hold}BYE → 200 along the Record-Route set${hold ? "" : ", no hold time"}) over ` +
        `${o.transport === "u1" ? "UDP" : "TCP"}. ${o.auth ? ADDRESSING.auth : ADDRESSING.direct}.`,
    ],
    intro:
      "Highest sustained call rate (≥ 99.9 % of the step's calls completed, ≥ 95 % of the target rate achieved); CPU and memory at that step:",
    best: {
      align: "lrrlrrlr",
      head:
        "proxy|calls/s|at target/s|first failing target/s|proxy CPU % of one core|proxy CPU µs per call|" +
        "proxy memory|SIPp CPU % callers / callees",
      cells: (x) => {
        const [b, fail] = [x.best, ramps.firstFailCell(x)];
        const sipp = `${fmt(b?.callerCpuPct)} / ${fmt(b?.calleeCpuPct)}`;
        return [fmt(b?.rate), fail, fmt(b?.cpuPct), fmt(b?.usPerCall), memory(b), sipp];
      },
    },
    kamailio,
    sipext,
    notes: [
      `sipext runs as one Node.js process, so on one core at most (${fmt(sipext.best?.cpuPct)} % of one at its highest ` +
        `passing rate); Kamailio's ${o.kamChildren} UDP workers share both cores with the two SIPp processes. Both ask ` +
        "for an 8 MB UDP receive buffer (Kamailio's `maxbuffer`). sipext keeps an answered call's key for 32-64 s " +
        "(Timer L, 64×T1) and a BYE's response as long (Timer J); Kamailio's tm keeps each transaction 5 s (its wait " +
        "timer): memory grows with the call rate in both. Past its limit a proxy's UDP socket overflows (the kernel's " +
        "drops are counted per step below) and calls fail.",
      `Latency added by the proxy at ${fmt(r.latencyRate)} calls/s (half of sipext's highest rate; each proxy started again after its ramp): INVITE → 200 at the caller ` +
        "through the proxy minus the same straight to the callee SIPp, each measured for " +
        `${o.latencyDuration} s, times from a packet capture of the caller's port (kernel timestamps; SIPp's own counts whole ms):`,
      markdownTable("lrrrrrr", [
        LATENCY_COLUMNS.split("|"),
        latencyRow("Kamailio"),
        latencyRow("sipext"),
      ]).join("\n"),
    ],
    steps: [
      ["retrans", (s) => fmt(s.retrans)],
      ["avg INVITE→200 ms (SIPp, whole ms)", (s) => String(s.avgRtMs)],
      ["proxy CPU %", (s) => fmt(s.cpuPct)],
      ["proxy CPU µs/call", (s) => fmt(s.usPerCall)],
      ["callers CPU %", (s) => fmt(s.callerCpuPct)],
      ["callees CPU %", (s) => fmt(s.calleeCpuPct)],
      ["proxy RSS MiB", (s) => (s.rssKb / 1024).toFixed(0)],
      ["UDP drops proxy / callees", (s) => `${fmt(s.proxyDrops)} / ${fmt(s.calleeDrops)}`],
      ["busy before %", (s) => fmt(s.busyBefore)],
      ["other runs", (s) => String(s.others)],
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Main

/** Registers the callees with `proxy`, starts the callee SIPp, runs `work`, then stops both. */
async function proxyPhase(proxy: Proxy, files: Files, dir: string, work: (t: SippTarget) => Promise<void>) {
  let callees: ReturnType<typeof sipp> | undefined;
  try {
    await registerCallees(proxy, files, join(dir, "register"));
    callees = await startCallees(proxy.label, join(dir, "callees"));
    const { label, port, callees: csv } = proxy;
    await work({ label, port, csv, pid: proxy.child.pid, callees: callees.child });
  } finally {
    await callees?.child.stop(5_000);
    await proxy.child.stop();
    // sipext logs at warn level on stdout (pino): anything there is worth a look
    if (proxy.label === "sipext" && proxy.child.stdoutCount > 0) {
      log(`${proxy.label} logged ${proxy.child.stdoutCount} line(s) at warn level or above; the first ones:`);
      for (const l of proxy.child.stdoutLines.slice(0, 5)) log(`    ${l.slice(0, 400)}`);
    }
    const cs = callees?.stats();
    if (cs && cs.failed > 0) {
      log(`${proxy.label}: the callee SIPp failed ${cs.failed} calls of ${cs.ok + cs.failed}`);
      for (const e of callees?.errors().slice(0, 3) ?? []) log(`    ${e}`);
    }
  }
}

proc.runBenchmark("calls", log, o.keep, async (dir) => {
  const packages = "kamailio kamailio-sqlite-modules sip-tester sqlite3 tcpdump util-linux".split(" ");
  aptInstall(log, packages, !o["no-install"]);
  for (const [name, p] of Object.entries(ports)) {
    if ((await proc.freePort(p)) === undefined)
      throw new Error(`port ${p} (${name}) is in use on 127.0.0.1: pick others with --ports`);
  }
  log(
    `${o.quick ? "quick run: " : ""}${o.users} callees, rates ${o.rates.join(" ")}/s, ${o.duration} s per step, ` +
      `refine ${o.refine}, ${o.transport}, ${o.auth ? "authenticated calls (--auth)" : "unauthenticated calls (direct addresses on sipext)"}`,
  );

  // 1. sipext's seed (Kamailio's is made each time it starts).
  const dataDir = join(dir, "sipext-data");
  const databaseUrl = o.workers ? newSchemaUrl("calls_workers") : undefined;
  const workersDb: Record<string, string> = databaseUrl ? { DATABASE_URL: databaseUrl } : {};
  try {
    const directCsv = join(dir, "callees-direct.csv");
    let seed: SeedResult | undefined;
    if (!o["skip-sipext"]) {
      log(`seeding sipext: ${o.users} extensions in ${DOMAINS} customers`);
      const script = ["bench/seed-user-set.ts", String(o.users), String(DOMAINS), directCsv];
      const opts = { env: sipextEnv(dataDir, workersDb), boundS: 900, forwardStderr: true };
      const seeder = proc.nodeChild("seed", script, opts);
      seed = await seeder.result<SeedResult>(15 * 60_000 + 10_000);
      log(`  seeded in ${(seed.ms / 1000).toFixed(1)} s`);
    }
    const files = writeUserFiles(dir, seed ? directCsv : undefined);
    const idle = o.waitIdle ? await waitForIdle(log) : undefined;
    const start = await loadAtStart(log);

    // 2. Kamailio's ramp.
    let kamailio: ramps.Ramp<CallStep> | undefined;
    if (!o["skip-kamailio"]) {
      const proxy = await startKamailio(join(dir, "kamailio"), files);
      await proxyPhase(proxy, files, join(dir, "kamailio"), async (t) => {
        kamailio = await ramp(t, join(dir, "kamailio", "ramp"));
        log(rampSummary(kamailio));
      });
    }

    // 3. sipext's ramp, then its latency (and the direct baseline) at half its highest rate on a
    // server started again; or, with
    // --workers, its ramps with 1 and N workers.
    let sipext: ramps.Ramp<CallStep> | undefined;
    const workers: WorkersRamp<WorkerCallStep>[] = [];
    if (o.workers && databaseUrl && !o["skip-sipext"]) {
      for (const n of [1, o.workers]) {
        await emptyTables(databaseUrl, ["bindings", "events", "calls", "sip_bans"]);
        const proxy = await startSipext(dataDir, files, undefined, workersEnv(databaseUrl, n), n);
        await proxyPhase(proxy, files, join(dir, `sipext-w${n}`), async (t) => {
          const r = await ramp(t, join(dir, `sipext-w${n}`, "ramp"));
          log(rampSummary(r));
          const steps = r.steps.map((s) => ({ ...s, loadCpuPct: s.callerCpuPct + s.calleeCpuPct }));
          workers.push({
            workers: n,
            schema: schemaOf(databaseUrl),
            ramp: ramps.rampOf(`${n} worker(s)`, steps, r.perSecond),
          });
          log(workersVerdict(workers, o.workers as number));
        });
      }
    }
    let latencyRate = o.latencyRate;
    const latency: Report["latency"] = {};
    if (!o["skip-sipext"] && !o.workers) {
      const profDir = o.profile ? join(dir, "cpuprof") : undefined;
      const proxy = await startSipext(dataDir, files, profDir);
      await proxyPhase(proxy, files, join(dir, "sipext"), async (t) => {
        const r = await ramp(t, join(dir, "sipext", "ramp"));
        sipext = r;
        log(rampSummary(r));
        latencyRate ??= Math.max(1, Math.floor(r.perSecond / 2));
      });
      if (profDir) logProfile(log, profDir, "calls");
      // Its latency on a server started again, as Kamailio's below: the ramp's last steps overloaded
      // it, and what they left (retransmissions, transactions kept 32 s by Timers J and L) is not
      // the steady state at half the rate (2026-12-05: p99 232 ms measured right after the ramp,
      // 18 ms on a fresh server).
      const rate = latencyRate;
      if (!o["skip-latency"] && sipext && sipext.perSecond > 0 && rate !== undefined) {
        const latDir = join(dir, "sipext-latency");
        const again = await startSipext(dataDir, files, undefined);
        await proxyPhase(again, files, latDir, async (t) => {
          latency.sipext = await addedLatency(t, files, rate, latDir);
        });
      }
    }

    // 4. Kamailio's latency at the same rate (started again: its ramp may have left it loaded).
    const rate = latencyRate;
    if (!o["skip-kamailio"] && !o["skip-latency"] && !o.workers && rate !== undefined) {
      const kamDir = join(dir, "kamailio-latency");
      const proxy = await startKamailio(kamDir, files);
      await proxyPhase(proxy, files, kamDir, async (t) => {
        latency.Kamailio = await addedLatency(t, files, rate, kamDir);
      });
    }

    // 5. Report.
    const atEnd = { machine: machine(), loadAtEnd: loadText() };
    const report: Report = { ...atEnd, start, idle, seed, kamailio, sipext, latencyRate, latency };
    const idleText = idle?.idle
      ? `idle after ${Math.round(idle.waitedS)} s`
      : idle
        ? "NOT idle"
        : "no idle wait";
    const load = `average ${start.load} at the start (${idleText}), ${report.loadAtEnd} at the end`;
    ramps.printSummary({ machine: report.machine, load, kamailio, sipext }, "calls_per_s");
    if (o.workers) {
      process.stderr.write(`${workersVerdict(workers, o.workers)}\n`);
      const text =
        o.write && workers.length === 2 ? await workersSectionOf(report, o.workers, workers) : undefined;
      recordSection(log, "calls-workers", text, o.benchmarksMd);
    } else {
      const record = o.write && kamailio && sipext ? section(report, kamailio, sipext) : undefined;
      recordSection(log, "calls", record, o.benchmarksMd);
    }
    if (o.keep)
      writeFileSync(join(dir, "report.json"), `${JSON.stringify({ ...report, workers }, null, 2)}\n`);
  } finally {
    if (databaseUrl) await dropSchema(databaseUrl);
  }
});

type WorkerCallStep = CallStep & { loadCpuPct: number };

async function workersSectionOf(r: Report, n: number, all: WorkersRamp<WorkerCallStep>[]) {
  const kamailio = r.kamailio
    ? ramps.rampOf(
        "Kamailio",
        r.kamailio.steps.map((s) => ({ ...s, loadCpuPct: s.callerCpuPct + s.calleeCpuPct })),
        r.kamailio.perSecond,
      )
    : undefined;
  return workersSection({
    name: "calls-workers",
    title: `Calls through the proxy on all cores (npm run bench:calls -- --workers ${n})`,
    unit: "calls",
    command:
      `\`${commandLineOf("calls")}\` — ramp steps ${o.rates.join(", ")} calls/s, ${o.duration} s each, ${o.refine} bisection step(s); ` +
      `SIPp \`${CALL_OPTIONS.join(" ")}\` for every ramp, one after the other; calls as in the section above (${o.auth ? "--auth" : "direct addresses on sipext"}).`,
    machine: r.machine,
    postgres: await pgVersion(),
    bullets: [
      `Load: ${r.start.busy} % of all cores busy when measuring began (load average ${r.start.load}; ${r.loadAtEnd} at the end); ` +
        `steps started on a machine still ≥ 10 % busy after 120 s: ${[...(kamailio?.steps ?? []), ...all.flatMap((w) => w.ramp.steps)].filter((s) => s.busyWarned).length}.`,
      `Callees: ${fmt(o.users)}, registered from one callee SIPp before each ramp.`,
    ],
    loadLabel: "SIPp (callers + callees)",
    kamailio,
    ramps: all,
    n,
    notes: [
      "The ceiling: the two SIPp processes run on the same cores and their CPU grows with the call rate; PostgreSQL " +
        "(call records, bindings) takes its share too.",
    ],
    steps: [
      ["server CPU %", (s) => fmt(s.cpuPct)],
      ["µs/call", (s) => fmt(s.usPerCall)],
      ["SIPp CPU %", (s) => fmt(s.loadCpuPct)],
      ["RSS MiB", (s) => (s.rssKb / 1024).toFixed(0)],
      ["UDP drops", (s) => `${fmt(s.proxyDrops)} / ${fmt(s.calleeDrops)}`],
      ["busy before %", (s) => fmt(s.busyBefore)],
    ],
  });
}
