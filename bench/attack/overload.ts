// bench:attack, part 3: an overload flood (FLOODER, the child bench/attack/flood.ts) of
// unauthenticated REGISTERs while a legitimate phone registers with digest at a steady pace
// (retransmitting as RFC 3261 §17.1.2): its success and times, the answers the flood got, and
// sipext's RSS before, at the peak and some time after.
import { markdownTable } from "../benchmarks-md.js";
import * as proc from "../proc.js";
import { fmt } from "../ramp-report.js";
import { quantileOf } from "../sipext-http.js";
import type { FloodResult } from "./flood.js";
import { registerWithDigest, udpPeer } from "./sip-udp.js";
import { type Ext, FLOODER, LEGIT, refusedOverloaded, rssMiB, type Target, tally } from "./target.js";

const log = proc.logger("bench:attack");

export type FloodSettings = { rate: number; seconds: number; legitInterval: number; after: number };
export type FloodReport = Awaited<ReturnType<typeof flood>>;

export async function flood(t: Target, legitExt: Ext, s: FloodSettings) {
  const rssBefore = rssMiB(t.pid);
  const refusedBefore = await refusedOverloaded(t.origin);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssMiB(t.pid));
  }, 250);
  const args = [`${t.sipPort}`, FLOODER, `${s.rate}`, `${s.seconds}`, t.domain];
  const child = proc.nodeChild("flood", ["bench/attack/flood.ts", ...args], { env: proc.childEnv({}) });
  const floodDone = child.result<FloodResult>((s.seconds + 60) * 1000);
  const legit = await udpPeer(LEGIT);
  const tries: Array<{ status: number; ms: number }> = [];
  const who = { ...legitExt, domain: t.domain };
  const ends = performance.now() + s.seconds * 1000;
  while (performance.now() < ends) {
    const t0 = performance.now();
    tries.push(await registerWithDigest(legit, t.sipPort, who, 32_000));
    await proc.sleep(Math.max(0, t0 + s.legitInterval - performance.now()));
  }
  const result = await floodDone;
  clearInterval(sampler);
  await legit.close();
  const rssEnd = rssMiB(t.pid);
  const refused = (await refusedOverloaded(t.origin)) - refusedBefore;
  log(
    `flood done: sent ${fmt(result.sent)}, answers ${JSON.stringify(result.answers)}; waiting ${s.after} s`,
  );
  await proc.sleep(s.after * 1000);
  const rssAfter = rssMiB(t.pid);
  const ok = tries.filter((x) => x.status === 200);
  const times = ok.map((x) => x.ms).sort((a, b) => a - b);
  const r = {
    flood: result,
    refused,
    tries: tries.length,
    ok: ok.length,
    statuses: tally(tries.map((x) => x.status)),
    p50: quantileOf(times, 0.5),
    p95: quantileOf(times, 0.95),
    max: times.at(-1) ?? Number.NaN,
    rss: { before: rssBefore, peak: rssPeak, end: rssEnd, after: rssAfter },
  };
  log(
    `legitimate: ${r.ok}/${r.tries} registered (${JSON.stringify(r.statuses)}), p50 ${r.p50.toFixed(0)} ms p95 ${r.p95.toFixed(0)} ms; ` +
      `RSS ${rssBefore.toFixed(0)} → peak ${rssPeak.toFixed(0)} → ${rssAfter.toFixed(0)} MiB ${s.after} s after`,
  );
  return r;
}

export const mib = (v: number) => `${v.toFixed(0)} MiB`;
export const byStatus = (answers: Record<string, number>) =>
  Object.entries(answers)
    .map(([k, v]) => `${k === "0" ? "no answer" : k}: ${fmt(v)}`)
    .join(", ") || "none";

export function floodLines(fl: FloodReport, s: FloodSettings): string[] {
  return [
    `### Overload flood (${fmt(s.rate)} unauthenticated REGISTERs/s for ${s.seconds} s from ${FLOODER})`,
    "",
    `A legitimate phone (${LEGIT}) registered with digest every ${s.legitInterval} ms meanwhile, retransmitting as RFC 3261 §17.1.2 ` +
      "(500 ms, 1 s, 2 s, … until 32 s).",
    "",
    ...markdownTable("lr", [
      ["figure", "value"],
      ["flood datagrams sent", fmt(fl.flood.sent)],
      ["flood answers by status", byStatus(fl.flood.answers)],
      ["new requests sipext refused with 503 (its metric, the legitimate ones included)", fmt(fl.refused)],
      [
        "legitimate registrations",
        `${fl.ok} / ${fl.tries} (${((100 * fl.ok) / Math.max(1, fl.tries)).toFixed(1)} %)`,
      ],
      ["legitimate outcomes", byStatus(fl.statuses)],
      [
        "legitimate time p50 / p95 / max",
        `${fl.p50.toFixed(0)} / ${fl.p95.toFixed(0)} / ${fl.max.toFixed(0)} ms`,
      ],
      [
        "sipext RSS before / peak / end of flood",
        `${mib(fl.rss.before)} / ${mib(fl.rss.peak)} / ${mib(fl.rss.end)}`,
      ],
      [`sipext RSS ${s.after} s after`, mib(fl.rss.after)],
      ["peak / before", `${(fl.rss.peak / fl.rss.before).toFixed(2)}× (target ≤ 2×)`],
    ]),
  ];
}
