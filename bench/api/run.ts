// `npm run bench:api [-- --duration N --connections N --warmup N --quick --no-write --write]`
//
// Measures the sipext REST API against a bare Fastify route, in one run, with the same autocannon
// options, each process on its own: this orchestrator, the load generator (load.ts, autocannon),
// the sipext server (`dist/cli/main.js serve` as `npm start` runs it, on embedded SQLite in a temp data dir) and the bare
// reference (bare.ts). Then seeds 100,000 extensions in one customer (seed.ts, through the
// services, before the server starts) and compares the p99 of the first page with the 1,000th.
// For each figure: req/s and p99 from autocannon, and the server's CPU time per request (from
// /proc/PID/stat), which noise from other processes moves much less.
import { join } from "node:path";
import { markdownTable, recordSection, sectionOf } from "../benchmarks-md.js";
import { loadText, type Machine, machine } from "../machine.js";
import { commandLineOf, flags, parseOptions, values, wholeOption } from "../options.js";
import { dropSchema, newSchemaUrl, pgVersion } from "../pg-schema.js";
import * as proc from "../proc.js";
import { call200, loginAdmin, startHttpServer } from "../sipext-http.js";
import { type LoadResult, type LoadSpec, MEASURING_LINE, type SeedResult } from "./protocol.js";

const log = proc.logger("bench:api");
const PAGE_SIZE = 100;
const SETUP_PASSWORD = "setup-Passw0rd";

const HELP = [
  "usage: npm run bench:api -- [options]",
  "  --duration N     seconds measured per benchmark (default 10; --quick: 2)",
  "  --connections N  concurrent connections (default 50)",
  "  --warmup N       unrecorded seconds before each measurement (default 3; --quick: 1)",
  "  --quick          smoke run: short measurements, 5,000 seeded extensions instead of 100,000",
  "  --no-write       do not update BENCHMARKS.md (the default with --quick; --write forces it)",
  "  --rate-limits M  on: API rate limits (CONTRACT §17) at 1,000,000/s, so every request pays for",
  "                   its address's and customer's buckets and none is refused; off (default): none",
  "  --events         instead: the cost of the event outbox (CONTRACT §11, #13): POST /v1.0/extensions",
  "                   with SIPEXT_EVENTS=true and =false, alternated --rounds times (default 2), into",
  "                   the api-events section",
  "  --rounds N       rounds of --events (each: events on, then off, each on a fresh server)",
  "  --database sqlite|postgres  the database of --events (default sqlite; postgres: a fresh schema",
  "                   of postgres://postgres@127.0.0.1:5432/test per server, dropped after)",
  "",
];

const FLAGS = flags("quick", "write", "no-write", "help", "events");
const OPTIONS = {
  ...FLAGS,
  ...values("duration", "connections", "warmup", "rate-limits", "rounds", "database"),
};

function databaseOption(raw = "sqlite"): "sqlite" | "postgres" {
  if (raw !== "sqlite" && raw !== "postgres") throw new Error("--database must be sqlite or postgres");
  return raw;
}

const o = parseOptions("api", OPTIONS, HELP, (a) => ({
  quick: a.quick,
  duration: wholeOption("duration", a.duration, 1) ?? (a.quick ? 2 : 10),
  connections: wholeOption("connections", a.connections, 1) ?? 50,
  warmup: wholeOption("warmup", a.warmup, 0) ?? (a.quick ? 1 : 3),
  /** extensions created through the API before the single-item and list benchmarks */
  setupExtensions: a.quick ? 120 : 200,
  /** extensions in one customer for the paging comparison, and the deep page measured */
  seedCount: a.quick ? 5_000 : 100_000,
  deepPage: a.quick ? 50 : 1_000,
  write: !a["no-write"] && (a.write ?? !a.quick),
  rateLimits: onOff("rate-limits", a["rate-limits"]),
  events: a.events,
  rounds: wholeOption("rounds", a.rounds, 1) ?? 2,
  database: databaseOption(a.database),
}));

function onOff(name: string, v: string | undefined): boolean {
  if (v === undefined || v === "off") return false;
  if (v === "on") return true;
  throw new Error(`--${name}: must be on or off, got "${v}"`);
}

/** SIPEXT_RATE_LIMIT_*: limits no load here reaches (their cost measured), or none at all. */
const RATE_LIMIT = o.rateLimits ? "1000000" : "0";
const commandLine = commandLineOf("api");
const deepPage = o.deepPage.toLocaleString("en-US");

// ---------------------------------------------------------------------------------------------
// Servers, and the HTTP set-up calls (not measured)

type Server = { child: proc.Child; origin: string };

/** sipext on `dataDir`; on a fresh one, resolves with the first-run admin password it prints too. */
async function startSipext(
  label: string,
  dataDir: string,
  firstRun: boolean,
  extra: Record<string, string> = {},
) {
  // With SIPEXT_LOG_LEVEL=warn the "listening" line (and its httpPort) is not logged: pick the port.
  const port = (await proc.freePort()) as number;
  const env = proc.sipextEnv(dataDir, 0, port, {
    SIPEXT_ADMIN_USERNAME: "admin",
    SIPEXT_RATE_LIMIT_IP: RATE_LIMIT,
    SIPEXT_RATE_LIMIT_CUSTOMER: RATE_LIMIT,
    ...extra,
  });
  // The first-run block is printed after the server listens.
  return startHttpServer(label, env, firstRun, [], 30_000);
}

async function startBare(): Promise<Server> {
  const child = proc.nodeChild("bare", ["bench/api/bare.ts"], { env: proc.childEnv({}) });
  const port = await child.waitFor((l) => /^\{"httpPort":(\d+)\}$/.exec(l)?.[1], 30_000, "httpPort line");
  return { child, origin: `http://127.0.0.1:${port}` };
}

type ExtensionJson = { id: string; extension: string; tm_create: string };
type PageJson = { result: ExtensionJson[]; next_page_token: string };

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`sanity check failed: ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Load

/** A server under load: where to send requests, and its process (for its CPU time). */
type Target = { origin: string; pid: number };

/** A measurement, and the server's CPU time per request (µs): unlike req/s, barely moved by other load. */
type Measured = LoadResult & { cpuUs: number | undefined };

type Request = Pick<LoadSpec, "method" | "path" | "headers" | "body" | "uniqueExtensionPrefix">;

let loadRuns = 0;
const LOAD = { connections: o.connections, warmup: o.warmup, duration: o.duration };

async function load(label: string, target: Target, request: Request): Promise<Measured> {
  const spec: LoadSpec = { ...request, origin: target.origin, ...LOAD };
  log(`  ${label}: ${spec.method} ${spec.path.slice(0, 90)} (${o.warmup}+${o.duration} s)`);
  const child = proc.nodeChild(`autocannon#${++loadRuns}`, ["bench/api/load.ts", JSON.stringify(spec)], {
    env: proc.childEnv({}),
  });
  const limit = (o.warmup + o.duration + 60) * 1000;
  // The server's CPU time, sampled in the line's own event: no await between the line and the sample.
  const cpuUs = () => {
    const ticks = proc.processTicks(target.pid);
    return ticks === undefined ? undefined : (ticks * 1e6) / proc.HZ();
  };
  const result = (l: string) => (l.startsWith(proc.RESULT_PREFIX) ? { l, us: cpuUs() } : undefined);
  try {
    const [start, end] = await Promise.all([
      child.waitFor((l) => (l === MEASURING_LINE ? { us: cpuUs() } : undefined), limit, "end of warm-up"),
      child.waitFor(result, limit, "result"),
    ]);
    await proc.within(10_000, "autocannon exit", child.exited);
    const r = JSON.parse(end.l.slice(proc.RESULT_PREFIX.length)) as LoadResult;
    if (r.errors > 0 || r.timeouts > 0 || r.non2xx > 0 || r.total === 0) {
      throw new Error(
        `${label} ${spec.method} ${spec.path}: ${r.total} responses, ${r.errors} errors, ${r.timeouts} timeouts, ` +
          `status codes ${JSON.stringify(r.statusCodes)}: the figures would be meaningless`,
      );
    }
    const cpu = start.us !== undefined && end.us !== undefined ? (end.us - start.us) / r.total : undefined;
    log(
      `    ${fmtRps(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.total} requests` +
        (cpu !== undefined ? `, server CPU ${cpu.toFixed(1)} µs/request` : ""),
    );
    return { ...r, cpuUs: cpu };
  } finally {
    await child.stop();
  }
}

type Pair = { name: string; sipext: Measured; bare: Measured };

// ---------------------------------------------------------------------------------------------
// Report

const fmtRps = (n: number) => Math.round(n).toLocaleString("en-US");
const fmtMs = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));
const fmtUs = (n: number | undefined) => (n === undefined ? "n/a" : n.toFixed(0));
const pct = (n: number) => `${(n * 100).toFixed(0)}%`;
const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : "n/a";

type Paging = { seeded: number; seedSeconds: number; first: Measured; deep: Measured };

/** The three tables of the report, as Markdown: sipext vs bare, the paging comparison, the targets. */
function tables(pairs: Pair[], paging: Paging): string[][] {
  const table = (head: string, rows: string[][]) => {
    const columns = head.split("|");
    return markdownTable("l".padEnd(columns.length, "r"), [columns, ...rows]);
  };
  const api = pairs.map(({ name, sipext: s, bare: b }) => {
    const rps = [fmtRps(s.rps), fmtRps(b.rps), pct(s.rps / b.rps)];
    const p99 = [fmtMs(s.p99), fmtMs(b.p99), ratio(s.p99, b.p99)];
    return [name, ...rps, ...p99, fmtUs(s.cpuUs), fmtUs(b.cpuUs), ratio(s.cpuUs, b.cpuUs)];
  });
  const page = (name: string, m: Measured, vsFirst: string) => {
    return [name, fmtRps(m.rps), fmtMs(m.p50), fmtMs(m.p99), vsFirst, fmtUs(m.cpuUs)];
  };
  const byId = pairs[0] ? pairs[0].sipext.rps / pairs[0].bare.rps : 0;
  const list = pairs[1] ? pairs[1].sipext.rps / pairs[1].bare.rps : 0;
  const deepRatio = paging.first.p99 > 0 ? paging.deep.p99 / paging.first.p99 : Number.POSITIVE_INFINITY;
  return [
    table(
      "benchmark|sipext req/s|bare req/s|req/s vs bare|sipext p99 ms|bare p99 ms|p99 vs bare|" +
        "sipext CPU µs/req|bare CPU µs/req|CPU vs bare",
      api,
    ),
    table("page (page_size=100)|req/s|p50 ms|p99 ms|p99 vs first page|CPU µs/req", [
      page("first page", paging.first, "1.00×"),
      page(`page ${deepPage}`, paging.deep, ratio(paging.deep.p99, paging.first.p99)),
    ]),
    table("target|measured|verdict", [
      [
        "GET /v1.0/extensions/{id} ≥ 50% of the bare route's req/s",
        pct(byId),
        byId >= 0.5 ? "met" : "MISSED",
      ],
      [
        "GET /v1.0/extensions (100) ≥ 50% of the bare route's page of 100 (#16)",
        pct(list),
        list >= 0.5 ? "met" : "MISSED",
      ],
      [
        `page ${deepPage} p99 within 1.1× of the first page's p99 (#16)`,
        ratio(paging.deep.p99, paging.first.p99),
        deepRatio <= 1.1 ? "met" : "MISSED",
      ],
    ]),
  ];
}

function section(m: Machine, loadBefore: string, pairs: Pair[], paging: Paging): string {
  const [api = [], paged = [], targets = []] = tables(pairs, paging);
  return sectionOf("api", [
    "## REST API (`npm run bench:api`)",
    "",
    `- Command: \`${commandLine}\` (${o.duration} s measured after ${o.warmup} s of warm-up per figure, ` +
      `${o.connections} connections, no pipelining)`,
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${m.ramGiB} GiB RAM, Node ${m.node}; ` +
      `load average before the run: ${loadBefore}`,
    "- Set-up: the sipext server (`dist/cli/main.js serve`, as `npm start` runs it, embedded SQLite in a fresh temp data dir, " +
      "`SIPEXT_LOG_LEVEL=warn`, JWT from `POST /auth/login`), the bare reference (a Fastify 5 route " +
      "answering the same method and path with fixed extension-shaped JSON — one object, or for the " +
      "list a page of 100 distinct ones, serialized on every request — no auth, no database) and autocannon 8 each run in their own process on the same machine. The bare route is " +
      "measured right before each sipext figure with the same request bytes; ratios are sipext / bare " +
      "from that same run. Absolute numbers depend on the machine; the ratios are what to compare.",
    "- Columns: req/s is autocannon's mean over the measured seconds; p99 is its latency percentile " +
      "(whole milliseconds); CPU µs/req is the server process's user + system CPU time over the measured " +
      "seconds divided by the responses, which other load on the machine moves much less than req/s.",
    "",
    ...api,
    "",
    `GET by id reads one of ${o.setupExtensions} extensions; the list returns a full page of 100 ` +
      "(the bare route's page holds 100 objects too); every POST " +
      "creates a distinct extension (a fresh `extension` per request).",
    "",
    `### Paging with ${paging.seeded.toLocaleString("en-US")} extensions in one customer`,
    "",
    `Seeded through the services in a separate process in ${paging.seedSeconds.toFixed(1)} s, before the server ` +
      `started. The page-${deepPage} token is the \`tm_create\` of the ` +
      `${((o.deepPage - 1) * PAGE_SIZE).toLocaleString("en-US")}th newest extension (as the seed created it).`,
    "",
    ...paged,
    "",
    "### Targets",
    "",
    ...targets,
  ]);
}

// ---------------------------------------------------------------------------------------------
// The run

async function apiBenchmarks(dir: string, bare: Target): Promise<Pair[]> {
  const dataDir = join(dir, "api");
  log(`starting sipext on a fresh data dir (${dataDir})`);
  const server = await startSipext("sipext", dataDir, true);
  try {
    const token = await loginAdmin(server.origin, server.password as string);
    log(`logged in; creating ${o.setupExtensions} extensions through the API`);
    let some: ExtensionJson | undefined;
    for (let i = 0; i < o.setupExtensions; i++) {
      const body = { name: `setup ${i}`, detail: "bench", extension: `setup-${i}`, password: SETUP_PASSWORD };
      some = await call200<ExtensionJson>(server.origin, "POST /v1.0/extensions", { token, body });
    }
    if (!some) throw new Error("no extension created");
    const byId = `/v1.0/extensions/${some.id}`;
    const list = `/v1.0/extensions?page_size=${PAGE_SIZE}`;
    check(
      (await call200<ExtensionJson>(server.origin, `GET ${byId}`, { token })).id === some.id,
      "GET by id",
    );
    check(
      (await call200<PageJson>(server.origin, `GET ${list}`, { token })).result.length === PAGE_SIZE,
      "full page",
    );

    const headers = { authorization: `Bearer ${token}` };
    const sipext: Target = { origin: server.origin, pid: server.child.pid };
    const run = Math.random().toString(36).slice(2, 7);
    // The bare route right before sipext, same request bytes, so both see the same machine state;
    // `unique`: every POST gets an `extension` of its own (prefixes apart for the two).
    const pair = async (name: string, request: Request, unique?: string): Promise<Pair> => {
      log(name);
      const prefix = (p: string) => (unique ? { uniqueExtensionPrefix: `${unique}${p}` } : {});
      const b = await load("bare", bare, { ...request, ...prefix("b") });
      return { name, bare: b, sipext: await load("sipext", sipext, { ...request, ...prefix("s") }) };
    };
    const post = { name: "bench", detail: "autocannon", extension: "", password: "bench-Passw0rd" };
    return [
      await pair("GET /v1.0/extensions/{id}", { method: "GET", path: byId, headers }),
      await pair("GET /v1.0/extensions (100)", { method: "GET", path: list, headers }),
      await pair(
        "POST /v1.0/extensions",
        { method: "POST", path: "/v1.0/extensions", headers, body: post },
        `p${run}`,
      ),
    ];
  } finally {
    await server.child.stop();
  }
}

async function pagingBenchmark(dir: string): Promise<Paging> {
  const dataDir = join(dir, "paging");
  const count = o.seedCount;
  // Newest first, created in order seed-0 … seed-(count-1): page N starts at seed-(count-1-offset).
  const offset = (o.deepPage - 1) * PAGE_SIZE;
  log(`seeding ${count.toLocaleString("en-US")} extensions in one customer through the services`);
  const seed = await proc
    .nodeChild("seed", ["bench/api/seed.ts", String(count), String(offset)], {
      env: proc.sipextEnv(dataDir, 0, 0),
      forwardStderr: true,
    })
    .result<SeedResult>(Math.max(120, count / 250) * 1000);
  log(`  seeded in ${seed.seconds.toFixed(1)} s (${fmtRps(count / seed.seconds)}/s)`);

  log("starting sipext on the seeded data dir");
  const server = await startSipext("sipext-paging", dataDir, false);
  try {
    const token = await loginAdmin(server.origin, seed.password);
    const first = `/v1.0/extensions?page_size=${PAGE_SIZE}`;
    const deep = `${first}&page_token=${encodeURIComponent(seed.pageToken)}`;
    const p1 = await call200<PageJson>(server.origin, `GET ${first}`, { token });
    check(p1.result.length === PAGE_SIZE && p1.result[0]?.extension === `seed-${count - 1}`, "first page");
    const pd = await call200<PageJson>(server.origin, `GET ${deep}`, { token });
    check(
      pd.result.length === PAGE_SIZE && pd.result[0]?.extension === `seed-${count - 1 - offset}`,
      `page ${o.deepPage} starts at seed-${count - 1 - offset}`,
    );

    log(`paging: first page vs page ${o.deepPage}`);
    const headers = { authorization: `Bearer ${token}` };
    const target: Target = { origin: server.origin, pid: server.child.pid };
    return {
      seeded: count,
      seedSeconds: seed.seconds,
      first: await load("sipext", target, { method: "GET", path: first, headers }),
      deep: await load("sipext", target, { method: "GET", path: deep, headers }),
    };
  } finally {
    await server.child.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// --events: the cost of the event outbox (CONTRACT §11, issue #13)

type EventsFigure = { round: number; events: boolean; m: Measured; eventsWritten: number };

/** POST /v1.0/extensions on a fresh sipext with SIPEXT_EVENTS=`events`; checks that events were (not) written. */
async function postWithEvents(dir: string, round: number, events: boolean): Promise<EventsFigure> {
  const label = `sipext-events-${events ? "on" : "off"}-${round}`;
  const url = o.database === "postgres" ? newSchemaUrl(`api_ev_${events ? "on" : "off"}`) : undefined;
  const extra = { SIPEXT_EVENTS: String(events), ...(url ? { DATABASE_URL: url } : {}) };
  const server = await startSipext(label, join(dir, label), true, extra);
  try {
    const token = await loginAdmin(server.origin, server.password as string);
    const headers = { authorization: `Bearer ${token}` };
    const post = { name: "bench", detail: "autocannon", extension: "", password: "bench-Passw0rd" };
    const request: Request = { method: "POST", path: "/v1.0/extensions", headers, body: post };
    const unique = `e${events ? 1 : 0}r${round}${Math.random().toString(36).slice(2, 6)}`;
    const target: Target = { origin: server.origin, pid: server.child.pid };
    const m = await load(label, target, { ...request, uniqueExtensionPrefix: unique });
    // The events of the last POSTs: some with the outbox on, none (or no route) with it off.
    const res = await fetch(`${server.origin}/v1.0/events?page_size=100`, { headers });
    const page = res.status === 200 ? ((await res.json()) as { result: unknown[] }) : { result: [] };
    check(events ? page.result.length > 0 : page.result.length === 0, `events written: ${events}`);
    return { round, events, m, eventsWritten: page.result.length };
  } finally {
    await server.child.stop();
    if (url) await dropSchema(url);
  }
}

async function eventsRun(dir: string) {
  const m = machine();
  const loadBefore = loadText();
  const postgres = o.database === "postgres" ? await pgVersion() : "embedded SQLite";
  log(`${commandLine}: POST /v1.0/extensions with events on and off, ${o.rounds} round(s), ${postgres}`);
  const figures: EventsFigure[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    for (const events of [true, false]) figures.push(await postWithEvents(dir, r, events));
  }
  const mean = (on: boolean, f: (x: Measured) => number | undefined) => {
    const xs = figures.filter((x) => x.events === on).map((x) => f(x.m) ?? Number.NaN);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const [rpsOn, rpsOff] = [mean(true, (x) => x.rps), mean(false, (x) => x.rps)];
  const [cpuOn, cpuOff] = [mean(true, (x) => x.cpuUs), mean(false, (x) => x.cpuUs)];
  const rows = figures.map((f) => [
    String(f.round),
    f.events ? "on" : "off",
    fmtRps(f.m.rps),
    fmtMs(f.m.p50),
    fmtMs(f.m.p99),
    fmtUs(f.m.cpuUs),
  ]);
  const summary =
    `events on / off: req/s ${(rpsOn / rpsOff).toFixed(2)} (${fmtRps(rpsOn)} / ${fmtRps(rpsOff)}), ` +
    `server CPU per request ${(cpuOn / cpuOff).toFixed(2)}× (${fmtUs(cpuOn)} / ${fmtUs(cpuOff)} µs)`;
  log(summary);
  process.stdout.write(`api_post_events_on_off_rps_ratio=${(rpsOn / rpsOff).toFixed(3)}\n`);
  const text = sectionOf("api-events", [
    "## Cost of events on the REST API (`npm run bench:api -- --events`)",
    "",
    `- Command: \`${commandLine}\` (${o.duration} s measured after ${o.warmup} s of warm-up per figure, ${o.connections} connections)`,
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${m.ramGiB} GiB RAM, Node ${m.node}; load average before the run: ${loadBefore}`,
    `- Set-up: as the REST API section, on ${postgres}; each figure on a fresh server (data dir${o.database === "postgres" ? " and schema" : ""}) with ` +
      "`SIPEXT_EVENTS=true` (the default: each POST appends `extension_created` to the outbox in its transaction, CONTRACT §11) or `=false` " +
      "(the change alone, no events, SSE or webhooks), alternated so that both see the same machine; every POST creates a distinct extension.",
    "",
    ...markdownTable("rlrrrr", [
      ["round", "events", "req/s", "p50 ms", "p99 ms", "server CPU µs/req"],
      ...rows,
    ]),
    "",
    `**${summary}** (means over the rounds).`,
  ]);
  recordSection(log, "api-events", o.write ? text : undefined);
}

proc.runBenchmark("api", log, false, async (dir) => {
  if (o.events) return eventsRun(dir);
  const m = machine();
  const loadBefore = loadText();
  log(
    `${commandLine}: ${o.duration} s per figure after ${o.warmup} s warm-up, ${o.connections} connections` +
      `${o.quick ? " (quick)" : ""}`,
  );
  log(`machine: ${m.nproc} CPUs, ${m.cpu}, ${m.ramGiB} GiB, Node ${m.node}, load average ${loadBefore}`);

  const bare = await startBare();
  const pairs = await apiBenchmarks(dir, { origin: bare.origin, pid: bare.child.pid });
  await bare.child.stop();
  const paging = await pagingBenchmark(dir);

  const [api = [], paged = [], targets = []] = tables(pairs, paging);
  process.stdout.write(
    [
      "",
      `sipext REST API vs a bare Fastify route — ${m.date}`,
      `${m.nproc} CPUs, ${m.cpu}, ${m.ramGiB} GiB RAM, Node ${m.node}`,
      `${o.duration} s per figure, ${o.warmup} s warm-up, ${o.connections} connections; ` +
        "CPU µs/req = server CPU time (user + system) per response",
      "",
      ...api,
      "",
      `paging, ${paging.seeded.toLocaleString("en-US")} extensions in one customer`,
      ...paged,
      "",
      ...targets,
      "",
    ].join("\n"),
  );
  recordSection(log, "api", o.write ? section(m, loadBefore, pairs, paging) : undefined);
});
