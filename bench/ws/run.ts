// `npm run bench:ws [-- options]`
//
// The cost of SIP over WebSocket (RFC 7118) against UDP in sipext's registrar: the same Node load
// client (bench/ws/load.ts, closed loop, REGISTER → 401 → REGISTER with digest → 200 per phone)
// over UDP and over ws://…/sip, alternately, several times, against one sipext on embedded SQLite
// seeded with bench/user-set.ts's users. Per window: registrations/s and sipext's CPU time per
// registration; the report gives WebSocket / UDP for both, with the spread of the runs. SIPp has no
// WebSocket transport and Kamailio's run.sh set-up none, so there is no reference here: the ratio
// to UDP is the figure (bench:sip compares UDP with Kamailio).
import { join } from "node:path";
import { markdownTable, recordSection, sectionOf } from "../benchmarks-md.js";
import { loadAtStart, machine } from "../machine.js";
import { commandLineOf, flags, parseOptions, values, wholeOption } from "../options.js";
import * as proc from "../proc.js";
import type { SeedResult } from "../seed-user-set.js";
import { waitForSip } from "../sip-probe.js";
import { REGISTRAR_DOMAIN } from "../user-set.js";
import type { LoadCounts } from "./load.js";

const log = proc.logger("bench:ws");
const HELP = [
  "usage: npm run bench:ws -- [options]",
  "  --phones N     concurrent phones, one socket or WebSocket each (default 50)",
  "  --duration S   seconds measured per window (default 10)",
  "  --runs N       UDP/WebSocket window pairs (default 3)",
  "  --quick        --duration 3 --runs 1, BENCHMARKS.md left alone (unless --write)",
  "  --keep         keep the temp dir",
  "  --write | --no-write   update BENCHMARKS.md or not (default: write unless --quick)",
  "",
];
const o = parseOptions(
  "ws",
  { ...flags("quick", "keep", "help", "write", "no-write"), ...values("phones", "duration", "runs") },
  HELP,
  (a) => ({
    ...a,
    phones: wholeOption("phones", a.phones, 1) ?? 50,
    duration: wholeOption("duration", a.duration, 1) ?? (a.quick ? 3 : 10),
    runs: wholeOption("runs", a.runs, 1) ?? (a.quick ? 1 : 3),
    write: !a["no-write"] && (a.write ?? !a.quick),
  }),
);
const USERS = 1_000;
const DOMAINS = 10;
const WARMUP_MS = 2_000;

type Transport = "udp" | "ws";
interface Window {
  transport: Transport;
  perS: number;
  cpuUsPerReg: number;
  serverCpuPct: number;
  clientCpuPct: number;
  failed: number;
  timeouts: number;
  rssMiB: number;
}

/** One measured window: a load child over `transport`, warmed up, then `duration` seconds counted. */
async function measure(transport: Transport, server: proc.Child, sip: number, http: number): Promise<Window> {
  const env = proc.childEnv({});
  const load = proc.nodeChild(
    `load-${transport}`,
    ["bench/ws/load.ts", transport, `${sip}`, `${http}`, `${o.phones}`],
    {
      env,
    },
  );
  let asked = 0;
  const mark = async () => {
    const n = ++asked;
    load.proc.stdin?.write("mark\n");
    const pick = (l: string) =>
      l.startsWith(proc.RESULT_PREFIX) && JSON.parse(l.slice(proc.RESULT_PREFIX.length)).mark === n
        ? (JSON.parse(l.slice(proc.RESULT_PREFIX.length)) as LoadCounts)
        : undefined;
    const counts = await load.waitFor(pick, 10_000, `mark ${n}`);
    return {
      counts,
      at: performance.now(),
      server: proc.treeTicks(server.pid),
      client: proc.treeTicks(load.pid),
    };
  };
  try {
    await proc.sleep(WARMUP_MS);
    const a = await mark();
    await proc.sleep(o.duration * 1000);
    const b = await mark();
    const secs = (b.at - a.at) / 1000;
    const ok = b.counts.ok - a.counts.ok;
    const hz = proc.HZ();
    return {
      transport,
      perS: ok / secs,
      cpuUsPerReg: ok ? (((b.server - a.server) / hz) * 1e6) / ok : Number.NaN,
      serverCpuPct: ((b.server - a.server) / hz / secs) * 100,
      clientCpuPct: ((b.client - a.client) / hz / secs) * 100,
      failed: b.counts.failed - a.counts.failed,
      timeouts: b.counts.timeouts - a.counts.timeouts,
      rssMiB: proc.treeMemKb(server.pid).rssKb / 1024,
    };
  } finally {
    await load.stop(2_000);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? Number.NaN) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const spread = (xs: number[], digits = 0) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

proc.runBenchmark("ws", log, o.keep, async (dir) => {
  const start = await loadAtStart(log);
  const [sip, http] = [await proc.freePort(), await proc.freePort()];
  if (!sip || !http) throw new Error("no free port");
  const env = proc.sipextEnv(join(dir, "data"), sip, http, {
    SIPEXT_REGISTRAR_DOMAIN: REGISTRAR_DOMAIN,
    SIPEXT_MAX_CONNECTIONS_PER_SOURCE: String(o.phones + 100),
  });
  log(`seeding ${USERS} extensions in ${DOMAINS} customers`);
  const seed = proc.nodeChild("seed", ["bench/seed-user-set.ts", `${USERS}`, `${DOMAINS}`], { env });
  await seed.result<SeedResult>(10 * 60_000);
  const server = proc.nodeChild("sipext", ["src/cli/main.ts", "serve"], { env });
  const windows: Window[] = [];
  try {
    await waitForSip(server, sip);
    for (let run = 1; run <= o.runs; run++) {
      for (const transport of ["udp", "ws"] as const) {
        const w = await measure(transport, server, sip, http);
        log(
          `run ${run} ${transport}: ${w.perS.toFixed(0)} reg/s, ${w.cpuUsPerReg.toFixed(0)} µs CPU/reg, ` +
            `sipext ${w.serverCpuPct.toFixed(0)} % / client ${w.clientCpuPct.toFixed(0)} % of a core, ` +
            `${w.failed} failed, ${w.timeouts} timeouts, RSS ${w.rssMiB.toFixed(0)} MiB`,
        );
        windows.push(w);
      }
    }
  } finally {
    await server.stop();
  }
  const of = (t: Transport) => windows.filter((w) => w.transport === t);
  const pairs = of("udp").map((u, i) => [u, of("ws")[i] as Window] as const);
  const rateRatios = pairs.map(([u, w]) => w.perS / u.perS);
  const cpuRatios = pairs.map(([u, w]) => w.cpuUsPerReg / u.cpuUsPerReg);
  const summary =
    `WebSocket / UDP: registrations/s ${spread(rateRatios, 2)}, ` +
    `CPU per registration ${spread(cpuRatios, 2)}`;
  log(summary);
  const m = machine();
  const rows = (["udp", "ws"] as const).map((t) => {
    const ws = of(t);
    return [
      t === "udp" ? "UDP" : "WebSocket",
      spread(ws.map((w) => w.perS)),
      spread(ws.map((w) => w.cpuUsPerReg)),
      spread(ws.map((w) => w.serverCpuPct)),
      spread(ws.map((w) => w.clientCpuPct)),
      String(ws.reduce((s, w) => s + w.failed + w.timeouts, 0)),
    ];
  });
  const section = sectionOf("ws", [
    "## SIP over WebSocket against UDP (npm run bench:ws)",
    "",
    `- Command: \`${commandLineOf("ws")}\` — ${o.runs} UDP/WebSocket pairs of ${o.duration} s windows (after ${WARMUP_MS / 1000} s warm-up each), ${o.phones} phones.`,
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} cores (${m.cpu}), ${m.ramGiB} GiB RAM, Linux ${m.kernel}, node ${m.node}; the load client and sipext share the cores.`,
    `- Load: ${start.busy} % of all cores busy at the start (load average ${start.load}).`,
    `- Work: ${USERS} extensions in ${DOMAINS} customers (embedded SQLite); each phone loops REGISTER → 401 → REGISTER with an MD5 digest → 200 with one request outstanding, over its own UDP socket or WebSocket (\`bench/ws/load.ts\`, the same code for both). No reference: SIPp has no WebSocket transport.`,
    "",
    "Median (min–max) of the runs:",
    "",
    ...markdownTable("lrrrrr", [
      [
        "transport",
        "registrations/s",
        "sipext CPU µs per registration",
        "sipext CPU % of a core",
        "load client CPU %",
        "failed + timed out",
      ],
      ...rows,
    ]),
    "",
    `**${summary}** (each ratio from one pair of windows measured back to back).`,
  ]);
  recordSection(log, "ws", o.write ? section : undefined);
});
