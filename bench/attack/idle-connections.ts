// bench:attack, part 5: many idle TCP connections from one address (IDLER, the child
// bench/attack/idle-holder.ts: never a byte sent) while a legitimate phone on TCP_PHONE registers
// over TCP, each time on a new connection (REGISTER → 401 → REGISTER with digest): how many of the
// idle connections sipext accepted and kept (CONTRACT §14: at most SIPEXT_MAX_CONNECTIONS_PER_SOURCE
// a source, closed after 10 s without a complete message), and whether the phone was ever refused.
import { DEFAULT_MAX_CONNECTIONS_PER_SOURCE } from "../../src/config.js";
import { RawPhone, tcpChannel } from "../../test/e2e/raw-phone.js";
import { markdownTable } from "../benchmarks-md.js";
import * as proc from "../proc.js";
import { fmt } from "../ramp-report.js";
import { quantileOf } from "../sipext-http.js";
import type { IdleResult } from "./idle-holder.js";
import { byStatus } from "./overload.js";
import { statusOf } from "./sip-udp.js";
import { type Ext, IDLER, type Target, TCP_PHONE, tally } from "./target.js";

const log = proc.logger("bench:attack");

export type IdleSettings = { count: number; seconds: number; phoneInterval: number };
export type IdleReport = Awaited<ReturnType<typeof idleConnections>>;

/** One registration of the phone over a new TCP connection: "refused: CODE", "no answer", or a status. */
async function tcpRegistration(t: Target, who: Ext) {
  const started = performance.now();
  let outcome: string;
  let connectMs = Number.NaN;
  try {
    const channel = await tcpChannel(t.sipPort, TCP_PHONE);
    connectMs = performance.now() - started;
    const phone = await RawPhone.open({ sipPort: t.sipPort, domain: t.domain, ...who }, channel);
    try {
      outcome = String(statusOf(await phone.registerWithDigest()));
    } catch {
      outcome = "no answer";
    } finally {
      await phone.close();
    }
  } catch (err) {
    outcome = `refused: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
  return { outcome, connectMs, ms: performance.now() - started };
}

export async function idleConnections(t: Target, phoneExt: Ext, s: IdleSettings) {
  const rssBefore = proc.treeMemKb(t.pid).rssKb / 1024;
  const args = [`${t.sipPort}`, IDLER, `${s.count}`, `${s.seconds}`];
  const child = proc.nodeChild("idle", ["bench/attack/idle-holder.ts", ...args], {
    env: proc.childEnv({}),
    boundS: s.seconds + 60,
  });
  const done = child.result<IdleResult>((s.seconds + 70) * 1000);
  const tries: Array<Awaited<ReturnType<typeof tcpRegistration>>> = [];
  const ends = performance.now() + s.seconds * 1000;
  let rssPeak = rssBefore;
  while (performance.now() < ends) {
    const t0 = performance.now();
    tries.push(await tcpRegistration(t, phoneExt));
    rssPeak = Math.max(rssPeak, proc.treeMemKb(t.pid).rssKb / 1024);
    await proc.sleep(Math.max(0, t0 + s.phoneInterval - performance.now()));
  }
  const idle = await done;
  const ok = tries.filter((x) => x.outcome === "200");
  const times = ok.map((x) => x.ms).sort((a, b) => a - b);
  const connects = tries
    .map((x) => x.connectMs)
    .filter((v) => !Number.isNaN(v))
    .sort((a, b) => a - b);
  const r = {
    idle,
    tries: tries.length,
    ok: ok.length,
    outcomes: tally(tries.map((x) => x.outcome)),
    refused: tries.filter((x) => x.outcome.startsWith("refused")).length,
    p50: quantileOf(times, 0.5),
    max: times.at(-1) ?? Number.NaN,
    connectMax: connects.at(-1) ?? Number.NaN,
    rss: { before: rssBefore, peak: rssPeak },
  };
  log(
    `idle connections: ${fmt(idle.connected)}/${fmt(idle.attempted)} connected, ${fmt(idle.closedAtOnce)} closed at once, ` +
      `${fmt(idle.closedLater)} later, ${fmt(idle.openAtEnd)} open at the end, errors ${JSON.stringify(idle.connectErrors)}; ` +
      `TCP phone ${r.ok}/${r.tries} registered (${JSON.stringify(r.outcomes)}), refused ${r.refused}`,
  );
  return r;
}

export function idleLines(r: IdleReport, s: IdleSettings): string[] {
  const i = r.idle;
  const later = i.laterAfterS
    ? ` (${i.laterAfterS[0].toFixed(1)}–${i.laterAfterS[1].toFixed(1)} s after connecting)`
    : "";
  return [
    `### Idle connections (${fmt(s.count)} TCP connections from ${IDLER}, never a byte sent, held ${s.seconds} s)`,
    "",
    `Meanwhile a TCP phone (${TCP_PHONE}) registered with digest every ${s.phoneInterval} ms, each time on a new connection. ` +
      `sipext at its defaults: SIPEXT_MAX_CONNECTIONS_PER_SOURCE=${DEFAULT_MAX_CONNECTIONS_PER_SOURCE}, a connection with no complete message closed after 10 s.`,
    "",
    ...markdownTable("lr", [
      ["figure", "value"],
      [
        "idle connections attempted / connected",
        `${fmt(i.attempted)} / ${fmt(i.connected)} (in ${i.openingS.toFixed(1)} s)`,
      ],
      ["connect errors", byStatus(i.connectErrors)],
      ["closed by sipext at once (< 1 s)", fmt(i.closedAtOnce)],
      [`closed by sipext later${later}`, fmt(i.closedLater)],
      [
        "most open at once (as the attacker saw them) / open at the end",
        `${fmt(i.maxOpen)} / ${fmt(i.openAtEnd)}`,
      ],
      [
        "TCP phone registrations",
        `${r.ok} / ${r.tries} (${((100 * r.ok) / Math.max(1, r.tries)).toFixed(1)} %)`,
      ],
      ["TCP phone outcomes", byStatus(r.outcomes)],
      ["TCP phone refused", `${r.refused} (target 0)`],
      [
        "TCP phone time p50 / max (connect max)",
        `${r.p50.toFixed(0)} / ${r.max.toFixed(0)} ms (${r.connectMax.toFixed(0)} ms)`,
      ],
      ["sipext RSS before / peak", `${r.rss.before.toFixed(0)} / ${r.rss.peak.toFixed(0)} MiB`],
    ]),
  ];
}
