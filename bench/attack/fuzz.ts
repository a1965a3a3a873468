// bench:attack, part 6: random and mutated SIP messages (the seeded mutator of the parser's fuzz
// tests, test/sip/message/mutate.ts, over RFC 4475's torture messages and requests written for the
// running sipext) sent from FUZZER over UDP and over a few TCP connections for a bounded time: the
// messages sent, the answers that came back by status, sipext still alive and registering a
// legitimate phone after, and its RSS before and after.
import { connect, type Socket } from "node:net";
import { mutate, prng, SEEDS } from "../../test/sip/message/mutate.js";
import { cutMessages } from "../../test/sip/raw-sip.js";
import { markdownTable } from "../benchmarks-md.js";
import * as proc from "../proc.js";
import { fmt } from "../ramp-report.js";
import { byStatus, mib } from "./overload.js";
import { hex, register, registerWithDigest, request, statusOf, type UdpPeer, udpPeer } from "./sip-udp.js";
import { type Ext, FUZZER, LEGIT, rssMiB, type Target } from "./target.js";

const log = proc.logger("bench:attack");

export type FuzzSettings = { rate: number; seconds: number; connections: number; seed: number };
export type FuzzReport = Awaited<ReturnType<typeof fuzz>>;

/** Requests the running sipext would answer, with `peer`'s address in their Via (answers come back). */
function ownSeeds(t: Target, victim: Ext, peer: Pick<UdpPeer, "address" | "port">): Buffer[] {
  const p = peer as UdpPeer;
  const to = `sip:${victim.ext}@${t.domain}`;
  const req = (method: string, extra: string[] = []) =>
    request(p, {
      method,
      uri: to,
      from: `sip:fuzz@${t.domain}`,
      to,
      callId: `${hex()}@fuzz`,
      cseq: 1,
      extra,
    });
  return [
    register(p, victim.ext, t.domain, `${hex()}@fuzz`, 1),
    req("INVITE", ["Content-Type: application/sdp"]),
    req("OPTIONS"),
    req("MESSAGE"),
    req("SUBSCRIBE", ["Event: presence"]),
    req("BYE"),
  ].map((text) => Buffer.from(text, "latin1"));
}

type Side = { sent: number; answers: Record<string, number> };
const count = (side: Side, text: string) => {
  const code = String(statusOf(text) || "other");
  side.answers[code] = (side.answers[code] ?? 0) + 1;
};

export async function fuzz(t: Target, victim: Ext, alive: () => boolean, s: FuzzSettings) {
  const rnd = prng(s.seed);
  const rssBefore = rssMiB(t.pid);
  let rssPeak = rssBefore;
  const udp: Side = { sent: 0, answers: {} };
  const tcp: Side & { opened: number; closedBySipext: number } = {
    sent: 0,
    answers: {},
    opened: 0,
    closedBySipext: 0,
  };
  const peer = await udpPeer(FUZZER, false);
  peer.socket.on("message", (m) => count(udp, m.toString("latin1")));
  const udpSeeds = [...SEEDS, ...ownSeeds(t, victim, peer)];
  const pick = (seeds: Buffer[]) =>
    rnd(3) < 1
      ? Buffer.from(Array.from({ length: Math.floor(rnd(400)) }, () => Math.floor(rnd(256))))
      : mutate(rnd, seeds[Math.floor(rnd(seeds.length))] ?? Buffer.alloc(0));

  // TCP: `connections` sockets, each reopened when sipext closes it (it closes one on garbage).
  let stopping = false;
  const sockets = new Set<Socket>();
  const open = () => {
    const c = connect({ host: "127.0.0.1", port: t.sipPort, localAddress: FUZZER });
    tcp.opened++;
    sockets.add(c);
    let pending: Buffer = Buffer.alloc(0);
    c.on("data", (chunk: Buffer) => {
      const { messages, rest } = cutMessages(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const m of messages) count(tcp, m);
    });
    c.on("error", () => {});
    c.on("close", () => {
      sockets.delete(c);
      if (stopping) return;
      tcp.closedBySipext++;
      setTimeout(open, 10);
    });
  };
  for (let i = 0; i < s.connections; i++) open();
  const tcpSeeds = [...SEEDS, ...ownSeeds(t, victim, { address: FUZZER, port: 5060 })];

  const started = performance.now();
  const tcpRate = Math.max(1, Math.round(s.rate / 10));
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      for (const due = Math.floor(Math.min(elapsed, s.seconds) * s.rate); udp.sent < due; udp.sent++)
        peer.socket.send(pick(udpSeeds), t.sipPort, "127.0.0.1");
      const writable = [...sockets].filter((c) => !c.connecting && c.writable);
      for (
        const due = Math.floor(Math.min(elapsed, s.seconds) * tcpRate);
        tcp.sent < due && writable.length;
        tcp.sent++
      )
        writable[tcp.sent % writable.length]?.write(pick(tcpSeeds));
      rssPeak = Math.max(rssPeak, rssMiB(t.pid));
      if (elapsed >= s.seconds) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
  });
  await proc.sleep(2_000); // late answers
  stopping = true;
  for (const c of sockets) c.destroy();
  await peer.close();
  const legit = await udpPeer(LEGIT);
  const after = await registerWithDigest(legit, t.sipPort, { ...victim, domain: t.domain }, 10_000);
  await legit.close();
  const r = {
    udp,
    tcp,
    alive: alive(),
    legitAfter: after,
    rss: { before: rssBefore, peak: rssPeak, after: rssMiB(t.pid) },
  };
  log(
    `fuzz: UDP ${fmt(udp.sent)} sent, answers ${JSON.stringify(udp.answers)}; TCP ${fmt(tcp.sent)} sent on ${fmt(tcp.opened)} ` +
      `connections (${fmt(tcp.closedBySipext)} closed by sipext), answers ${JSON.stringify(tcp.answers)}; ` +
      `alive ${r.alive}, legitimate REGISTER after: ${after.status} in ${after.ms.toFixed(0)} ms`,
  );
  return r;
}

export function fuzzLines(r: FuzzReport, s: FuzzSettings): string[] {
  return [
    `### Fuzzing (${fmt(s.rate)} mutated or random messages/s over UDP and ${fmt(Math.round(s.rate / 10))}/s over ${s.connections} TCP connections, ${s.seconds} s, seed ${s.seed})`,
    "",
    `From ${FUZZER} (a trusted source here, so that the parser, not the ban, meets every message): a third random bytes, the rest ` +
      "RFC 4475's torture messages and requests to this sipext (REGISTER, INVITE, OPTIONS, MESSAGE, SUBSCRIBE, BYE), each mutated " +
      "by `test/sip/message/mutate.ts` (bytes flipped, special sequences inserted, spans cut or doubled, digits changed). " +
      "Answers are counted only when they come back to the fuzzer (a torture message's Via sends them elsewhere); a TCP " +
      "connection sipext closes (garbage) is reopened.",
    "",
    ...markdownTable("lr", [
      ["figure", "value"],
      ["UDP messages sent", fmt(r.udp.sent)],
      ["UDP answers by status", byStatus(r.udp.answers)],
      [
        "TCP messages sent / connections opened / closed by sipext",
        `${fmt(r.tcp.sent)} / ${fmt(r.tcp.opened)} / ${fmt(r.tcp.closedBySipext)}`,
      ],
      ["TCP answers by status", byStatus(r.tcp.answers)],
      ["sipext alive after", r.alive ? "yes" : "**no**"],
      [
        "legitimate REGISTER after (UDP, digest)",
        `${r.legitAfter.status || "no answer"} in ${r.legitAfter.ms.toFixed(0)} ms`,
      ],
      ["sipext RSS before / peak / after", `${mib(r.rss.before)} / ${mib(r.rss.peak)} / ${mib(r.rss.after)}`],
    ]),
  ];
}
