// bench:attack, part 4: goodput at twice sipext's registration capacity, as a share of goodput at
// capacity (CONTRACT §14: ≥ 90 %). A sipext of its own, seeded with users.awk's user set
// (bench/seed-user-set.ts), is loaded by SIPp from 127.0.0.1 with the REGISTER → 401 → REGISTER
// with digest scenario of bench:calls (bench/calls/sipp.ts runs it): a short ramp finds the
// capacity (the highest step at which ≥ 99.9 % of the registrations succeed and ≥ 95 % of the rate
// is achieved), then one step offers twice that rate. Goodput: successful registrations a second.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { markdownTable } from "../benchmarks-md.js";
import { sippArgs, sippRun } from "../calls/sipp.js";
import * as proc from "../proc.js";
import { fmt } from "../ramp-report.js";
import type { SeedResult } from "../seed-user-set.js";
import { waitForSip } from "../sip-probe.js";
import { freeSipPort } from "../sipext-http.js";
import { DOMAINS, domainOf, passwordOf, REGISTRAR_DOMAIN, tenantOf, userOf } from "../user-set.js";
import { LEGIT, refusedOverloaded } from "./target.js";

const log = proc.logger("bench:attack");
const SCENARIO = join(dirname(fileURLToPath(import.meta.url)), "..", "calls", "sipp_register_auth.xml");

export type GoodputSettings = { rates: number[]; seconds: number; pairs: number; users: number };

type Server = { port: number; pid: number; origin: string };

async function step(t: Server, rate: number, seconds: number, dir: string, csv: string) {
  const { port, pid } = t;
  const calls = rate * seconds;
  const sippPort = await freeSipPort();
  const a = {
    server: proc.treeTicks(pid),
    sipp: proc.reapedChildTicks(),
    drops: proc.udpDrops(port),
    refused: await refusedOverloaded(t.origin),
    machine: proc.machineJiffies().busy,
    wall: performance.now(),
  };
  const run = await sippRun(`goodput ${rate}/s`, dir, "register", seconds + 30, [
    `127.0.0.1:${port}`,
    ...sippArgs({ sf: SCENARIO, inf: csv, i: LEGIT, p: sippPort, t: "u1" }),
    ...["-key", "expires", "3600"],
    ...sippArgs({ r: rate, m: calls, timeout: `${seconds + 30}s`, recv_timeout: 5000 }),
    ...sippArgs({ max_non_invite_retrans: 5, buff_size: 1048576 }),
    // A late 401 (sipext answering a retransmitted first REGISTER) is absorbed, as a phone's
    // completed client transaction does (RFC 3261 §17.1.2.2), instead of failing the call; and a
    // registration given up sends no BYE (SIPp's default for an aborted call: extra load on sipext).
    ...sippArgs({ default_behaviors: "none" }),
  ]);
  const wallS = (performance.now() - a.wall) / 1000;
  const pct = (ticks: number) => Math.round((100 * ticks) / proc.HZ() / wallS);
  const s = run.stats;
  if (!s) throw run.child.failure("wrote no statistics");
  const achieved = s.elapsedS > 0 ? s.ok / s.elapsedS : 0;
  const r = {
    rate,
    calls,
    ok: s.ok,
    failed: s.failed,
    failedBy: s.failedBy,
    /** datagrams the kernel dropped at sipext's full receive queue */
    drops: proc.udpDrops(port) - a.drops,
    /** new requests sipext refused with 503 (overloaded) */
    refused: (await refusedOverloaded(t.origin)) - a.refused,
    retrans: s.retrans,
    achieved,
    avgRtMs: s.avgRtMs,
    pass: s.ok >= 0.999 * calls && achieved >= 0.95 * rate,
    serverCpuPct: pct(proc.treeTicks(pid) - a.server),
    sippCpuPct: pct(proc.reapedChildTicks() - a.sipp),
  };
  /** the rest of the machine (this script, other benchmarks…): its busy CPU less sipext's and SIPp's */
  const restCpuPct = Math.max(0, pct(proc.machineJiffies().busy - a.machine) - r.serverCpuPct - r.sippCpuPct);
  log(
    `goodput step ${rate}/s: ${fmt(r.ok)}/${fmt(calls)} ok, ${fmt(r.failed)} failed ${JSON.stringify(r.failedBy)}, ${fmt(r.drops)} UDP drops, ${fmt(r.refused)} 503s, achieved ${fmt(achieved)}/s, ` +
      `avg ${r.avgRtMs.toFixed(1)} ms, sipext CPU ${r.serverCpuPct} %, SIPp CPU ${r.sippCpuPct} %, ` +
      `the rest ${restCpuPct} % | ${r.pass ? "pass" : "FAIL"}`,
  );
  return { ...r, restCpuPct };
}
type Step = Awaited<ReturnType<typeof step>>;
export type GoodputResult = Awaited<ReturnType<typeof goodput>>;

export async function goodput(dir: string, s: GoodputSettings) {
  const [sipPort, httpPort] = [await freeSipPort(), (await proc.freePort()) as number];
  const env = proc.sipextEnv(join(dir, "goodput-data"), sipPort, httpPort, {
    SIPEXT_SIP_TRUSTED_SOURCES: LEGIT,
    SIPEXT_REGISTRAR_DOMAIN: REGISTRAR_DOMAIN,
  });
  const script = ["bench/seed-user-set.ts", `${s.users}`, `${DOMAINS}`];
  const seed = await proc.nodeChild("seed", script, { env }).result<SeedResult>(10 * 60_000);
  log(`goodput: ${fmt(seed.extensions)} extensions seeded in ${(seed.ms / 1000).toFixed(1)} s`);
  const csv = join(dir, "goodput-users.csv");
  const users = Array.from({ length: s.users }, (_, i) => i + 1);
  const rows = users.map((n) => `${userOf(n)};${domainOf(tenantOf(n))};${passwordOf(n)}`);
  writeFileSync(csv, `${["SEQUENTIAL", ...rows].join("\n")}\n`);
  const server = proc.nodeChild("sipext-goodput", ["src/cli/main.ts", "serve"], { env });
  try {
    await waitForSip(server, sipPort);
    let n = 0;
    const run = async (rate: number) => {
      const target = { port: sipPort, pid: server.pid, origin: `http://127.0.0.1:${httpPort}` };
      const r = await step(target, rate, s.seconds, join(dir, `goodput-${++n}`), csv);
      await proc.sleep(2_000); // the retransmissions and the write-behind of the step die down
      return r;
    };
    const ramp: Step[] = [];
    for (const rate of s.rates) {
      ramp.push(await run(rate));
      if (!ramp.at(-1)?.pass) break;
    }
    // Capacity: the last passing step; when none passed, what the first one achieved.
    const capacity =
      ramp.filter((r) => r.pass).at(-1)?.rate ??
      Math.max(100, Math.floor((ramp[0]?.achieved ?? 0) / 100) * 100);
    // 1× and 2× in turns, so that a change in the machine's other load weighs on both alike.
    const pairs: Array<{ once: Step; twice: Step }> = [];
    for (let i = 0; i < s.pairs; i++)
      pairs.push({ once: await run(capacity), twice: await run(2 * capacity) });
    const mean = (xs: Step[]) => xs.reduce((t, x) => t + x.achieved, 0) / Math.max(1, xs.length);
    const [once, twice] = [mean(pairs.map((p) => p.once)), mean(pairs.map((p) => p.twice))];
    const share = twice / Math.max(1, once);
    log(`goodput at 2× capacity (${capacity}/s): ${(100 * share).toFixed(1)} % of goodput at capacity`);
    return { seed, ramp, capacity, pairs, once, twice, share, reached: ramp.some((r) => !r.pass) };
  } finally {
    await server.stop();
  }
}

export function goodputLines(g: GoodputResult, s: GoodputSettings): string[] {
  const row = (label: string, r: Step) => [
    label,
    fmt(r.rate),
    `${fmt(r.ok)} / ${fmt(r.calls)}`,
    fmt(r.achieved),
    r.avgRtMs.toFixed(1),
    fmt(r.retrans),
    fmt(r.drops),
    fmt(r.refused),
    Object.entries(r.failedBy)
      .map(([k, v]) => `${k}: ${fmt(v)}`)
      .join(", ") || "–",
    String(r.serverCpuPct),
    String(r.sippCpuPct),
    String(r.restCpuPct),
    r.pass ? "yes" : "no",
  ];
  const verdict = g.share >= 0.9 ? "met" : `missed by ${(90 - 100 * g.share).toFixed(1)} points`;
  return [
    `### Goodput at twice the capacity (SIPp, ${s.seconds} s steps; capacity ${fmt(g.capacity)}/s)`,
    "",
    `A sipext of its own with ${fmt(g.seed.extensions)} extensions (users.awk's set, ${DOMAINS} customers), registered by SIPp from ${LEGIT} ` +
      "(`bench/calls/sipp_register_auth.xml`: REGISTER → 401 → REGISTER with digest; UDP, SIPp retransmitting at 500 ms, " +
      "`-default_behaviors none`: a late duplicate 401 ignored as a phone ignores it, no BYE sent for a registration given up). " +
      "Capacity: the highest step of the ramp with ≥ 99.9 % of the registrations successful and ≥ 95 % of the rate achieved " +
      `(or what its first step achieved, when none passed); then that rate (1×) and twice it (2×), in turns, ${s.pairs} time(s) each. ` +
      "Achieved: successful registrations / SIPp's run time; the share is the mean achieved at 2× over the mean at 1×. " +
      "CPU: % of one core over the step (SIPp's tail included); the rest of the machine: its busy CPU less sipext's and SIPp's " +
      "(this script, and other benchmarks on the shared machine; /proc/stat is tick-sampled: ±10).",
    "",
    ...markdownTable("lrrrrrrrlrrrl", [
      [
        "step",
        "offered/s",
        "successful",
        "achieved/s",
        "avg ms (SIPp, whole ms)",
        "retrans",
        "UDP drops",
        "503 sent",
        "failed by (SIPp)",
        "sipext CPU %",
        "SIPp CPU %",
        "rest of the machine, CPU %",
        "pass",
      ],
      ...g.ramp.map((r) => row("ramp", r)),
      ...g.pairs.flatMap((p, i) => [row(`**1×** (${i + 1})`, p.once), row(`**2×** (${i + 1})`, p.twice)]),
    ]),
    "",
    `**Goodput at 2× capacity: ${(100 * g.share).toFixed(1)} % of goodput at capacity** ` +
      `(${fmt(g.twice)}/s vs ${fmt(g.once)}/s; target ≥ 90 %: ${verdict})` +
      `${g.reached ? "." : "; every step of the ramp passed, so the capacity is higher than this and the figure says nothing yet (extend --goodput-rates)."}`,
  ];
}
