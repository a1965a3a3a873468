// `npm run bench:sip [-- options]`
//
// sipext's SIP registrar against Kamailio, in one run, with the same SIPp options (the ramp driver
// /work/shared/bench/kamailio/run.sh, see its README):
//   1. seeds sipext (temp SIPEXT_DATA_DIR, embedded SQLite) with Kamailio's user set
//      (bench/seed-user-set.ts, in its own process, database closed before the server starts);
//   2. ramps Kamailio (run.sh starts and stops it);
//   3. starts sipext (`dist/cli/main.js serve`, as `npm start` runs it) and ramps it (run.sh --no-kamailio --pid);
//   4. measures the memory of one binding in the location index (memory.ts, --expose-gc);
//   5. prints both rates, their ratio, CPU and RSS, and rewrites its section of BENCHMARKS.md.
// With --events (#13), step 3 ramps sipext twice, with the event outbox on and off (section
// sip-events). With --workers N (CONTRACT §15, #15), step 3 is sipext on PostgreSQL instead, ramped twice in a
// fresh schema each (seeded the same way): SIPEXT_WORKERS=1, then =N; its section is sip-workers.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { markdownTable, recordSection, sectionOf } from "../benchmarks-md.js";
import { cpuProfArgs, logProfile } from "../cpuprofile-top.js";
import { loadAtStart, type Machine, machine } from "../machine.js";
import { commandLineOf, flags, parseOptions, values, wholeOption } from "../options.js";
import { backendsOf, dropSchema, emptyTables, newSchemaUrl, pgVersion, schemaOf } from "../pg-schema.js";
import * as proc from "../proc.js";
import * as ramps from "../ramp-report.js";
import type { SeedResult } from "../seed-user-set.js";
import { waitForSip } from "../sip-probe.js";
import { DOMAINS, REGISTRAR_DOMAIN, USERS } from "../user-set.js";
import {
  rampOfWorkers,
  type WorkersRamp,
  workersEnv,
  workersSection,
  workersVerdict,
} from "../workers-report.js";
import type { MemoryResult } from "./memory.js";

const RUN_SH = "/work/shared/bench/kamailio/run.sh";
const RUN_SH_RATES = "1000 2000 3000 4000 5000 6000 7000 8000 9000 10000 11000 12000";
const MEMORY_TARGET_BYTES = 1024;
const log = proc.logger("bench:sip");
const { fmt, memory: memoryCell } = ramps;

const HELP = [
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
  "  --workers N          sipext on PostgreSQL (a fresh schema of SIPEXT_BENCH_DATABASE_URL or",
  "                       postgres://postgres@127.0.0.1:5432/test per ramp, dropped after), ramped",
  "                       with SIPEXT_WORKERS=1 and then =N (instead of the SQLite ramp); its own",
  "                       section of BENCHMARKS.md (sip-workers)",
  "  --events             the cost of the event outbox (CONTRACT §11, #13): sipext (SQLite) ramped",
  "                       with SIPEXT_EVENTS=true, then =false (instead of one ramp); section sip-events",
  "  --profile            run sipext under `node --cpu-prof` and print its top self-time",
  "                       functions (the figures are then not the benchmark's: no write)",
  "  --keep               keep the temp dir (data, run.sh workdirs, results.tsv, logs)",
  "  --write | --no-write update BENCHMARKS.md or not (default: write unless --quick/--profile)",
  "",
];

const OPTIONS = {
  ...ramps.RAMP_OPTIONS,
  ...flags("skip-memory", "events"),
  ...values("sip-port", "bindings", "workers"),
};

const o = parseOptions("sip", OPTIONS, HELP, (a) => {
  const rates = a.rates ?? (a.quick ? "500 1000 2000" : undefined);
  const duration = wholeOption("duration", a.duration, 1) ?? (a.quick ? 5 : undefined);
  const refine = wholeOption("refine", a.refine, 0) ?? (a.quick ? 0 : undefined);
  /** The SIPp options of both ramps, identical; run.sh's defaults for those left unset. */
  const rampOptions = ["--transport", ramps.transportOption(a.transport)];
  if (rates !== undefined) rampOptions.push("--rates", ramps.ratesOption(rates).join(" "));
  if (duration !== undefined) rampOptions.push("--duration", String(duration));
  if (refine !== undefined) rampOptions.push("--refine", String(refine));
  // a ramp's wall time at most: each step's quiet wait (40 × 2 s), SIPp bound and pauses; apt
  const steps = ramps.ratesOption(rates ?? RUN_SH_RATES).length + (refine ?? 2);
  return {
    ...a,
    rampOptions,
    rampBoundMs: (steps * (85 + (duration ?? 20) + 45 + 5) + 900) * 1000,
    sipPort: wholeOption("sip-port", a["sip-port"], 1) ?? 5090,
    bindings: wholeOption("bindings", a.bindings, 1) ?? 100_000,
    workers: wholeOption("workers", a.workers, 2),
    write:
      !a["no-write"] && !a.profile && (a.write ?? (!a.quick && !a["skip-kamailio"] && !a["skip-sipext"])),
  };
});
const commandLine = commandLineOf("sip");

// ---------------------------------------------------------------------------------------------
// The ramps (run.sh) and their results.tsv

/** The columns of run.sh's results.tsv, by field of a step ("NA": not a number). */
const COLUMNS = {
  busyBefore: "bg_busy_pct",
  rate: "rate_target",
  ok: "ok",
  failed: "failed",
  failPct: "fail_pct",
  retrans: "retrans",
  achieved: "achieved_per_s",
  avgRtMs: "avg_rt_ms",
  sippCpuPct: "sipp_cpu_pct",
  cpuPct: "registrar_cpu_pct",
  machineCpuPct: "system_cpu_pct_ticksampled",
  rssKb: "registrar_rss_kb",
  pssKb: "registrar_pss_kb",
  nproc: "registrar_nproc",
} as const;

type RegisterStep = Record<keyof typeof COLUMNS, number> & { pass: boolean; loadCpuPct: number };

interface RegisterRamp extends ramps.Ramp<RegisterStep> {
  /** steps run.sh measured although the machine was still busy after waiting */
  busyWarnings: number;
  /** CPU µs per registration over the ramp: sipext's process tree, its PostgreSQL backends */
  cost?: { registrations: number; serverUs: number; postgresUs: number };
}

function readResults(file: string): RegisterStep[] {
  const [head = "", ...rows] = readFileSync(file, "utf8").trim().split("\n");
  const names = head.split("\t");
  return rows.map((row) => {
    const cells = row.split("\t");
    const cell = (name: string) => cells[names.indexOf(name)];
    const numbers = Object.entries(COLUMNS).map(([field, name]) => {
      const v = cell(name);
      return [field, v === undefined || v === "NA" ? Number.NaN : Number(v)];
    });
    const step = { ...Object.fromEntries(numbers), pass: cell("pass") === "yes" } as RegisterStep;
    return { ...step, loadCpuPct: step.sippCpuPct };
  });
}

async function ramp(
  label: string,
  workdir: string,
  extra: string[],
  options = o.rampOptions,
): Promise<RegisterRamp> {
  const argv = [RUN_SH, "--workdir", workdir, ...extra, ...options];
  log(`${label}: bash ${argv.map(proc.shellQuote).join(" ")}`);
  const child = new proc.Child(`${label}-ramp`, "bash", argv, { cwd: proc.ROOT, forwardStderr: true });
  const code = await proc.within(o.rampBoundMs, `${label} ramp`, child.exited);
  const last = child.stdoutLines.at(-1) ?? "";
  const m = /^(?:kamailio_)?register_auth_per_s=(\d+)$/.exec(last);
  if (code !== 0 || !m) throw child.failure(`exited with ${code}; last line ${JSON.stringify(last)}`);
  const runLog = readFileSync(join(workdir, "run.log"), "utf8");
  return {
    ...ramps.rampOf(label, readResults(join(workdir, "results.tsv")), Number(m[1])),
    busyWarnings: (runLog.match(/WARNING: machine still/g) ?? []).length,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Report {
  machine: Machine;
  start: Awaited<ReturnType<typeof loadAtStart>>;
  kamailio: RegisterRamp | undefined;
  sipext: RegisterRamp | undefined;
  memory: MemoryResult | undefined;
  seed: SeedResult | undefined;
  workers: WorkersRamp<RegisterStep>[];
}

function busySummary(r: RegisterRamp): string {
  const bg = r.steps.map((s) => s.busyBefore).filter((v) => !Number.isNaN(v));
  const busiest = fmt(bg.length ? Math.max(...bg) : Number.NaN);
  const warned = r.busyWarnings ? `; ${r.busyWarnings} measured busy after run.sh's 80 s wait` : "";
  return `${bg.filter((v) => v < 10).length}/${bg.length} steps started on a quiet machine (< 10 % busy); busiest start ${busiest} %${warned}`;
}

const logRamp = (r: RegisterRamp) => {
  const best = (b: RegisterStep) =>
    `registrar CPU ${fmt(b.cpuPct)} % of a core, RSS ${memoryCell(b)} | SIPp CPU ${fmt(b.sippCpuPct)} % | avg response ${b.avgRtMs} ms`;
  log(ramps.rampLine(r, "reg/s", best));
  log(`  ${busySummary(r)}`);
};

const memoryVerdict = (m: MemoryResult) =>
  `target ≤ ${MEMORY_TARGET_BYTES}: ${m.bytesPerBinding <= MEMORY_TARGET_BYTES ? "met" : "not met"}`;

function section(r: Report, kamailio: RegisterRamp, sipext: RegisterRamp, seed: SeedResult): string {
  const m = r.memory;
  return ramps.rampSection({
    name: "sip",
    title: "SIP registrar (npm run bench:sip)",
    command:
      `\`${commandLine}\` — SIPp options given to both ramps: \`${o.rampOptions.map(proc.shellQuote).join(" ")}\` ` +
      "(unset ones are `run.sh`'s defaults); both ramps by `/work/shared/bench/kamailio/run.sh`, one after the other.",
    machine: r.machine,
    kamailioSetup: "run.sh defaults: 4 children, `-x tlsf`",
    sharing: "SIPp and the registrar share the 2 cores.",
    bullets: [
      `Load: ${r.start.busy} % of all cores busy when the run started (load average ${r.start.load}); ` +
        `Kamailio ramp: ${busySummary(kamailio)}; sipext ramp: ${busySummary(sipext)}.`,
      `Users: ${fmt(seed.extensions)} extensions in ${seed.customers} customers, the user set of \`users.awk\` ` +
        `(sipext as \`npm start\` runs it, \`dist/cli/main.js serve\`, on embedded SQLite, \`SIPEXT_REGISTRAR_DOMAIN=${REGISTRAR_DOMAIN}\`).`,
    ],
    intro:
      "Highest sustained rate of authenticated registrations (REGISTER → 401 → REGISTER with digest → 200, < 0.1 % failed, ≥ 95 % of the target rate); CPU and memory at that step:",
    best: {
      align: "lrrll",
      head: "registrar|registrations/s|registrar CPU % of one core|RSS|first failing target/s",
      cells: (x) => [fmt(x.best?.cpuPct), memoryCell(x.best), ramps.firstFailCell(x)],
    },
    kamailio,
    sipext,
    notes: [
      "One run's ratio is fragile: on these shared 2-core machines Kamailio's highest passing step moves a lot " +
        "from run to run (past its capacity, or at one hiccup, it falls into a retransmission storm and fails the " +
        "step), so compare several runs; sipext's figure moves less.",
      "Not the same work: Kamailio (`kamailio.cfg` of run.sh) answers REGISTER statelessly and keeps its " +
        "location table in memory only (usrloc `db_mode` 0); sipext answers in RFC 3261 server transactions, " +
        "kept 32–64 s over UDP to absorb retransmissions (Timer J, two per registration: the RSS above grows " +
        "with the rate for that reason), and writes every binding to SQLite behind its memory index.",
      ...(m
        ? [
            `Memory per binding in the location index: **${fmt(m.bytesPerBinding)} bytes** (${memoryVerdict(m)}) — ` +
              `V8 heap used after gc, ${fmt(m.bindings)} live bindings (one per extension, each parsed from a REGISTER ` +
              "datagram as in production, a third with `+sip.instance`, 8 user agents shared), `LocationService` " +
              "over a no-op binding store, write queue flushed (`bench/sip/memory.ts`).",
          ]
        : []),
    ],
    steps: [
      ["avg rt ms", (s) => String(s.avgRtMs)],
      ["registrar CPU %", (s) => fmt(s.cpuPct)],
      ["SIPp CPU %", (s) => fmt(s.sippCpuPct)],
      ["RSS MiB", (s) => (s.rssKb / 1024).toFixed(0)],
      ["machine busy before %", (s) => fmt(s.busyBefore)],
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// sipext: seeded, started, ramped, stopped

const domainEnv = { SIPEXT_REGISTRAR_DOMAIN: REGISTRAR_DOMAIN };

/** Seeds the user set into the database of `env` (its own process; it closes the database). */
async function seedUsers(env: NodeJS.ProcessEnv): Promise<SeedResult> {
  log(`seeding ${fmt(USERS)} extensions in ${DOMAINS} customers (users.awk's set)`);
  const script = ["bench/seed-user-set.ts", `${USERS}`, `${DOMAINS}`];
  const seed = await proc.nodeChild("seed", script, { env }).result<SeedResult>(15 * 60_000);
  log(`  seeded in ${(seed.ms / 1000).toFixed(1)} s`);
  return seed;
}

/**
 * The warm-up of a --workers ramp: every user registered once at a low rate, unmeasured. A first
 * step where every binding is new (inserts, extension_registered events, cold extension caches)
 * costs PostgreSQL ~0.7 ms per registration and, with two workers queueing on the ten customers'
 * event counters, could fail the ramp at its first step; the ramps compare workers at steady state.
 */
const WARM_UP = ["--rates", "500", "--duration", String(Math.ceil((USERS * 1.2) / 500)), "--refine", "0"];

/**
 * Starts sipext with `env` and ramps it; with `workers` > 1, once its primary has forked them all
 * and it answers OPTIONS (CPU and memory are the process tree's: run.sh --pid sums it).
 */
async function sipextRamp(label: string, dir: string, env: NodeJS.ProcessEnv, workers = 1, warmUp = false) {
  const profDir = join(dir, `cpuprof-${label}`);
  const nodeArgs = o.profile ? cpuProfArgs(profDir) : [];
  const server = proc.nodeChild(label, ["src/cli/main.ts", "serve"], { env, nodeArgs });
  try {
    const deadline = Date.now() + 120_000;
    while (workers > 1 && proc.descendants(server.pid).length < workers) {
      if (!server.running || Date.now() > deadline) throw server.failure(`did not fork ${workers} workers`);
      await proc.sleep(200);
    }
    // SIPEXT_LOG_LEVEL=warn hides the "SIP listening" info line: readiness is a 200 to OPTIONS.
    await waitForSip(server, o.sipPort);
    if (workers > 1) await proc.sleep(3_000); // the last workers' listeners
    const forked = workers > 1 ? ` (primary of ${proc.descendants(server.pid).join(", ")})` : "";
    log(`${label} (pid ${server.pid}${forked}) answers on udp+tcp 127.0.0.1:${o.sipPort}`);
    const target = ["--target", `127.0.0.1:${o.sipPort}`, "--pid", String(server.pid)];
    if (warmUp) {
      const w = `${label}-warm-up`;
      const r = await ramp(w, join(dir, w), ["--no-kamailio", "--no-install", ...target], WARM_UP);
      log(
        `${w}: ${fmt(r.steps[0]?.ok ?? 0)} registrations (${r.steps[0]?.failPct ?? "?"} % failed), not counted`,
      );
    }
    // CPU per registration over the whole ramp: the server's process tree and, on PostgreSQL, the
    // backends serving it (pool connections made meanwhile counted whole), less what both burn
    // idle (measured for 5 s before) over the ramp's wall time (its quiet waits included).
    const tree = () => [server.pid, ...proc.descendants(server.pid)];
    const sample = async () => {
      const backends = await backendsOf(tree());
      const pg = new Map(backends.map((b) => [b, proc.processTicks(b) ?? 0]));
      return { at: performance.now(), server: proc.treeTicks(server.pid), pg };
    };
    type Sample = Awaited<ReturnType<typeof sample>>;
    const pgSince = (x: Sample, y: Sample) =>
      [...y.pg].reduce((t, [pid, ticks]) => t + ticks - (x.pg.get(pid) ?? 0), 0);
    const idle0 = await sample();
    await proc.sleep(5_000);
    const idle1 = await sample();
    const idleS = (idle1.at - idle0.at) / 1000;
    const idle = { server: (idle1.server - idle0.server) / idleS, pg: pgSince(idle0, idle1) / idleS };
    const r = await ramp(label, join(dir, label), ["--no-kamailio", "--no-install", ...target]);
    logRamp(r);
    const end = await sample();
    const wallS = (end.at - idle1.at) / 1000;
    const ok = r.steps.reduce((n, st) => n + (Number.isNaN(st.ok) ? 0 : st.ok), 0);
    const us = (ticks: number) => (ok > 0 ? Math.round((ticks / proc.HZ() / ok) * 1e6) : Number.NaN);
    const cost = {
      registrations: ok,
      serverUs: us(end.server - idle1.server - idle.server * wallS),
      postgresUs: us(pgSince(idle1, end) - idle.pg * wallS),
    };
    log(
      `  CPU per registration over the ramp: sipext ${cost.serverUs} µs, its PostgreSQL backends ${cost.postgresUs} µs (${ok} registrations)`,
    );
    return { ...r, cost };
  } finally {
    await server.stop();
    if (o.profile) logProfile(log, profDir, `sip-${label}`);
  }
}

/** --events: sipext (SQLite) with SIPEXT_EVENTS=true, then =false, each seeded alike. */
async function eventsRamps(dir: string): Promise<EventsRamp[]> {
  const out: EventsRamp[] = [];
  for (const events of [true, false]) {
    const label = `sipext-events-${events ? "on" : "off"}`;
    const extra = { ...domainEnv, SIPEXT_EVENTS: String(events) };
    const env = proc.sipextEnv(join(dir, `data-${label}`), o.sipPort, 0, extra);
    await seedUsers(env);
    out.push({ events, ramp: await sipextRamp(label, dir, env) });
  }
  return out;
}
type EventsRamp = { events: boolean; ramp: RegisterRamp };

function eventsRatio(rs: EventsRamp[]): number | undefined {
  const [on, off] = [rs.find((r) => r.events), rs.find((r) => !r.events)];
  return on && off && off.ramp.perSecond > 0 ? on.ramp.perSecond / off.ramp.perSecond : undefined;
}

function eventsSection(r: Report, rs: EventsRamp[]): string {
  const m = r.machine;
  const ratio = eventsRatio(rs);
  const row = (x: EventsRamp) => [
    x.events ? "on (`SIPEXT_EVENTS=true`, the default)" : "off (`SIPEXT_EVENTS=false`)",
    `**${fmt(x.ramp.perSecond)}**`,
    fmt(x.ramp.best?.cpuPct),
    fmt(x.ramp.best?.sippCpuPct),
    memoryCell(x.ramp.best),
    ramps.firstFailCell(x.ramp),
  ];
  const steps = (x: EventsRamp) =>
    markdownTable("rrrrrrc", [
      [
        `events ${x.events ? "on" : "off"} target/s`,
        "achieved/s",
        "failed %",
        "avg rt ms",
        "registrar CPU %",
        "SIPp CPU %",
        "pass",
      ],
      ...x.ramp.steps.map((s) => [
        fmt(s.rate),
        fmt(s.achieved),
        String(s.failPct),
        String(s.avgRtMs),
        fmt(s.cpuPct),
        fmt(s.sippCpuPct),
        s.pass ? "yes" : "no",
      ]),
    ]);
  return sectionOf("sip-events", [
    "## Cost of events on the registrar (npm run bench:sip -- --events)",
    "",
    `- Command: \`${commandLine}\` — SIPp options of both ramps: \`${o.rampOptions.map(proc.shellQuote).join(" ")}\` (run.sh's defaults for the rest).`,
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} cores (${m.cpu}), ${m.ramGiB} GiB RAM, Linux ${m.kernel}, node ${m.node}, SIPp ${m.sipp}; SIPp and the registrar share the cores.`,
    `- Load: ${r.start.busy} % of all cores busy when the run started (load average ${r.start.load}); ` +
      rs.map((x) => `events ${x.events ? "on" : "off"}: ${busySummary(x.ramp)}`).join("; "),
    `- sipext as \`npm start\` runs it (\`dist/cli/main.js serve\`), on embedded SQLite, ${fmt(USERS)} extensions of \`users.awk\` seeded into a fresh data dir for each ramp.`,
    "",
    ...markdownTable("lrrrll", [
      ["event outbox", "registrations/s", "registrar CPU %", "SIPp CPU %", "RSS", "first failing target/s"],
      ...rs.map(row),
    ]),
    "",
    `**events on / off = ${ratio === undefined ? "n/a" : ratio.toFixed(2)}** (registrations/s, same run).`,
    "",
    `CPU per registration over each whole ramp (sipext's process tree, less its idle use over the ramp's wall time): ${rs
      .map(
        (x) =>
          `events ${x.events ? "on" : "off"} ${x.ramp.cost ? `${fmt(x.ramp.cost.serverUs)} µs (${fmt(x.ramp.cost.registrations)} registrations)` : "n/a"}`,
      )
      .join(
        ", ",
      )}. Read it beside the rates: a step that starts on a busy machine fails for want of CPU, not for the outbox.`,
    "",
    "What it costs: the registrar writes `extension_registered` when a contact is added and `extension_unregistered` " +
      "when one goes, in the transaction of the write-behind batch (`src/adapters/sql-location-store.ts`); a refresh " +
      "of a known contact writes no event. SIPp registers every user from the same contact, so a ramp writes one " +
      "event per user at its first registration and none after: this measures the outbox on a registrar's steady " +
      "state (refreshes), not on a crowd of new phones.",
    "",
    "<details><summary>Every ramp step</summary>",
    "",
    ...rs.flatMap((x) => [...steps(x), ""]),
    "</details>",
  ]);
}

/**
 * --workers N: sipext on PostgreSQL with 1 worker, then N, on one schema seeded once; what a ramp
 * leaves (bindings, their events, bans) is emptied before the next.
 */
async function workersRamps(dir: string, n: number): Promise<WorkersRamp<RegisterStep>[]> {
  const out: WorkersRamp<RegisterStep>[] = [];
  const url = newSchemaUrl("sip_workers");
  const envOf = (workers: number) =>
    proc.sipextEnv(join(dir, `data-w${workers}`), o.sipPort, 0, {
      ...domainEnv,
      ...workersEnv(url, workers),
    });
  try {
    await seedUsers(envOf(1));
    for (const workers of [1, n]) {
      await emptyTables(url, ["bindings", "events", "sip_bans"]);
      const ramp = await sipextRamp(`sipext-w${workers}`, dir, envOf(workers), workers, true);
      out.push({ workers, schema: schemaOf(url), ramp });
      log(workersVerdict(out, n));
    }
  } finally {
    await dropSchema(url);
  }
  return out;
}

function workersSectionOf(r: Report, n: number, all: WorkersRamp<RegisterStep>[], postgres: string): string {
  const one = rampOfWorkers(all, 1)?.ramp.best;
  const many = rampOfWorkers(all, n)?.ramp.best;
  const ceiling = (s: RegisterStep | undefined) =>
    s ? `${fmt(s.sippCpuPct)} % of one core for SIPp at ${fmt(s.achieved)}/s` : "n/a";
  return workersSection({
    name: "sip-workers",
    title: `SIP registrar on all cores (npm run bench:sip -- --workers ${n})`,
    unit: "authenticated registrations",
    command:
      `\`${commandLine}\` — SIPp options given to every ramp: \`${o.rampOptions.map(proc.shellQuote).join(" ")}\` ` +
      "(unset ones are `run.sh`'s defaults); every ramp by `/work/shared/bench/kamailio/run.sh`, one after the other.",
    machine: r.machine,
    postgres,
    bullets: [
      `Load: ${r.start.busy} % of all cores busy when the run started (load average ${r.start.load})` +
        `${r.start.others.length ? `; other processes: ${r.start.others.map((l) => `\`${l.slice(0, 90)}\``).join(", ")}` : ""}. ` +
        `${r.kamailio ? `Kamailio ramp: ${busySummary(r.kamailio)}; ` : ""}` +
        all.map((w) => `${w.workers} worker(s): ${busySummary(w.ramp as RegisterRamp)}`).join("; "),
      `Users: ${fmt(USERS)} extensions in ${DOMAINS} customers, the user set of \`users.awk\`, seeded once into the schema; ` +
        `before each ramp, every user registered once (\`${WARM_UP.join(" ")}\`, not counted): the ramps compare steady state.`,
    ],
    loadLabel: "SIPp",
    kamailio: r.kamailio,
    ramps: all,
    n,
    notes: [
      `The ceiling: SIPp runs on the same ${r.machine.nproc} cores and needs CPU in proportion to the rate ` +
        `(${ceiling(one)} with 1 worker; ${ceiling(many)} with ${n}); what it takes is not there for the workers, ` +
        "and PostgreSQL (the write-behind of every binding, the NOTIFY of each batch to the other workers) takes its " +
        "share too. So N workers can never reach N× the rate of one on this machine.",
      `CPU per registration over each whole ramp (all its steps; the server's process tree, and the PostgreSQL backends ` +
        `serving it, found by their connections; less what both burn idle over the ramp's wall time): ${all
          .map((w) => {
            const c = (w.ramp as RegisterRamp).cost;
            return c
              ? `${w.workers} worker(s): sipext ${fmt(c.serverUs)} µs + PostgreSQL ${fmt(c.postgresUs)} µs (${fmt(c.registrations)} registrations)`
              : `${w.workers} worker(s): n/a`;
          })
          .join(
            "; ",
          )}. On a 2-core machine shared with SIPp, the cores divided by their sum bound the rate whatever the number of workers.`,
    ],
    steps: [
      ["avg rt ms", (s) => String(s.avgRtMs)],
      ["server CPU %", (s) => fmt(s.cpuPct)],
      ["SIPp CPU %", (s) => fmt(s.sippCpuPct)],
      ["RSS MiB", (s) => (s.rssKb / 1024).toFixed(0)],
      ["procs", (s) => fmt(s.nproc)],
      ["busy before %", (s) => fmt(s.busyBefore)],
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Main

proc.runBenchmark("sip", log, o.keep, async (dir) => {
  if (!existsSync(RUN_SH)) throw new Error(`${RUN_SH} not found`);
  if (!o["skip-sipext"] && (await proc.freePort(o.sipPort)) === undefined)
    throw new Error(`port ${o.sipPort} (UDP or TCP on 127.0.0.1) is in use: pick another with --sip-port`);
  const postgres = o.workers ? await pgVersion() : undefined;
  const start = await loadAtStart(log);

  // 1. Seed (SQLite), in its own process; it closes the database before exiting.
  const serverEnv = proc.sipextEnv(join(dir, "data"), o.sipPort, 0, domainEnv);
  const seed = o.workers || o.events ? undefined : await seedUsers(serverEnv);

  // 2. Kamailio's ramp (run.sh starts Kamailio, installing it from apt the first time).
  let kamailio: RegisterRamp | undefined;
  if (!o["skip-kamailio"]) {
    kamailio = await ramp("kamailio", join(dir, "kam"), o["no-install"] ? ["--no-install"] : []);
    logRamp(kamailio);
  }

  // 3. sipext's ramp(s).
  let sipext: RegisterRamp | undefined;
  let workers: WorkersRamp<RegisterStep>[] = [];
  let events: EventsRamp[] = [];
  if (!o["skip-sipext"] && o.workers) workers = await workersRamps(dir, o.workers);
  else if (!o["skip-sipext"] && o.events) events = await eventsRamps(dir);
  else if (!o["skip-sipext"]) sipext = await sipextRamp("sipext", dir, serverEnv);

  // 4. Memory per binding.
  let memory: MemoryResult | undefined;
  if (!o["skip-memory"] && !o.workers && !o.events) {
    log(`memory: ${fmt(o.bindings)} bindings in a LocationService (node --expose-gc)`);
    const opts = { env: proc.childEnv({}), nodeArgs: ["--expose-gc"] };
    const child = proc.nodeChild("memory", ["bench/sip/memory.ts", `${o.bindings}`], opts);
    const m = await child.result<MemoryResult>(600_000);
    const bytes = `${fmt(m.heapAfter - m.heapBefore)} bytes for ${fmt(m.bindings)}`;
    log(`memory per binding: ${m.bytesPerBinding} bytes (${bytes}; ${memoryVerdict(m)})`);
    memory = m;
  }

  // 5. Report.
  const report: Report = { machine: machine(), start, kamailio, sipext, memory, seed, workers };
  const load = `${start.busy} % busy at start (load average ${start.load})`;
  const figures = memory ? [`bytes_per_binding=${memory.bytesPerBinding}`] : [];
  if (o.events) {
    const ratio = eventsRatio(events);
    if (ratio !== undefined) figures.push(`sipext_events_on_off_ratio=${ratio.toFixed(3)}`);
    process.stderr.write(`events on / off: ${ratio?.toFixed(2) ?? "n/a"}\n`);
    ramps.printSummary({ machine: report.machine, load, kamailio, sipext }, "register_auth_per_s", figures);
    recordSection(
      log,
      "sip-events",
      o.write && events.length === 2 ? eventsSection(report, events) : undefined,
    );
  } else if (o.workers) {
    for (const w of workers)
      figures.push(`sipext_workers_${w.workers}_register_auth_per_s=${w.ramp.perSecond}`);
    process.stderr.write(`${workersVerdict(workers, o.workers)}\n`);
    const write = o.write && workers.length === 2 && postgres !== undefined;
    const text = write ? workersSectionOf(report, o.workers, workers, postgres) : undefined;
    ramps.printSummary({ machine: report.machine, load, kamailio, sipext }, "register_auth_per_s", figures);
    recordSection(log, "sip-workers", text);
  } else {
    ramps.printSummary({ machine: report.machine, load, kamailio, sipext }, "register_auth_per_s", figures);
    const write = o.write && kamailio && sipext && seed;
    recordSection(
      log,
      "sip",
      write && kamailio && sipext && seed ? section(report, kamailio, sipext, seed) : undefined,
    );
  }
  if (o.keep) writeFileSync(join(dir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
});
