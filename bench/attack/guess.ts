// bench:attack, parts 1 and 2: a password guesser against one extension (REGISTER → 401 → REGISTER
// with a wrong digest, from GUESSER) and the amplification of one unauthenticated request of each
// kind (from PROBER, every datagram that comes back counted).
import { markdownTable } from "../benchmarks-md.js";
import * as proc from "../proc.js";
import { fmt } from "../ramp-report.js";
import { call200 } from "../sipext-http.js";
import {
  authorization,
  hex,
  register,
  registerWithDigest,
  request,
  statusOf,
  type UdpPeer,
  udpPeer,
} from "./sip-udp.js";
import { DIRECT_DOMAIN, type Ext, GUESSER, LEGIT, PROBER, type Target } from "./target.js";

const log = proc.logger("bench:attack");

type GuessSecond = { attempted: number; challenged: number; guessed: number; answered: number };
export type GuessResult = Awaited<ReturnType<typeof guessing>>;

/** `rate` guesses attempted a second for `seconds`; then the ban as listed, and the real phone. */
export async function guessing(t: Target, victim: Ext, rate: number, seconds: number) {
  const peer = await udpPeer(GUESSER, false);
  const perSecond: GuessSecond[] = Array.from({ length: seconds + 2 }, () => ({
    attempted: 0,
    challenged: 0,
    guessed: 0,
    answered: 0,
  }));
  const started = performance.now();
  const second = () =>
    perSecond[
      Math.min(perSecond.length - 1, Math.floor((performance.now() - started) / 1000))
    ] as GuessSecond;
  let answeredGuesses = 0;
  peer.socket.on("message", (m) => {
    const text = m.toString("latin1");
    const s = second();
    const cseq = /\r\nCSeq:\s*(\d+)/i.exec(text)?.[1];
    if (cseq === "1" && statusOf(text) === 401) {
      s.challenged++;
      const callId = /\r\nCall-ID:\s*([^\r]+)/i.exec(text)?.[1]?.trim() ?? "";
      const auth = authorization(text, victim.ext, t.domain, `wrong-${hex(3)}`);
      peer.socket.send(register(peer, victim.ext, t.domain, callId, 2, auth), t.sipPort, "127.0.0.1");
      s.guessed++;
    } else if (cseq === "2") {
      s.answered++;
      answeredGuesses++;
    }
  });
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      const due = Math.floor(Math.min(elapsed, seconds) * rate);
      for (; sent < due; sent++) {
        second().attempted++;
        peer.socket.send(register(peer, victim.ext, t.domain, `${hex()}@guess`, 1), t.sipPort, "127.0.0.1");
      }
      if (elapsed >= seconds) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  await proc.sleep(1_500);
  await peer.close();
  const silent = perSecond.findIndex((s, i) => i > 0 && s.answered === 0 && s.challenged === 0);
  // The ban, as the customer sees it, and the real phone, still served.
  const bans = await call200<{ result: unknown[] }>(t.origin, "GET /v1.0/sip-bans", { token: t.token });
  const legit = await udpPeer(LEGIT);
  const real = await registerWithDigest(legit, t.sipPort, { ...victim, domain: t.domain }, 5_000);
  await legit.close();
  const r = {
    seconds: perSecond,
    answeredGuesses,
    firstSilentAfter: silent >= 0 ? silent : undefined,
    bans: bans.result.length,
    realStatus: real.status,
  };
  log(
    `guesser: ${fmt(sent)} attempts, ${fmt(answeredGuesses)} wrong guesses answered; bans listed ${r.bans}; ` +
      `the real phone then: ${real.status}`,
  );
  return r;
}

export function guessingLines(g: GuessResult, rate: number, seconds: number): string[] {
  const rows = g.seconds
    .slice(0, seconds + 1)
    .map((s, i) => [String(i + 1), fmt(s.attempted), fmt(s.challenged), fmt(s.guessed), fmt(s.answered)]);
  const silent = g.firstSilentAfter;
  return [
    `### Password guessing (${fmt(rate)} attempts/s for ${seconds} s from one address)`,
    "",
    "Each attempt: REGISTER → 401 → REGISTER with a wrong digest answer. Per second: attempts sent, challenges (401) received, " +
      "wrong answers sent, and wrong answers answered (the guesses that learned something):",
    "",
    ...markdownTable("rrrrr", [
      ["second", "attempted", "challenged", "guesses sent", "guesses answered"],
      ...rows,
    ]),
    "",
    `**${fmt(g.answeredGuesses)} wrong guesses answered in all** (target: banned within 10); ` +
      `${silent !== undefined ? `nothing answered from second ${silent + 1} on` : "answers never stopped"}; ` +
      `\`GET /v1.0/sip-bans\` lists ${g.bans} ban(s); the real phone (from ${LEGIT}, right password) then registered with ${g.realStatus}.`,
  ];
}

// ---------------------------------------------------------------------------------------------

type Probe = { name: string; bytesIn: number; datagrams: number; bytesOut: number; statuses: number[] };

/** One request of each kind from PROBER, and what comes back within `waitS` seconds. */
export async function amplification(t: Target, victim: Ext, waitS: number): Promise<Probe[]> {
  const kinds: Array<[string, (p: UdpPeer) => string]> = [
    ["OPTIONS", (p) => probe(p, "OPTIONS", `sip:${t.domain}`)],
    ["REGISTER, no credentials", (p) => register(p, victim.ext, t.domain, `${hex()}@amp`, 1)],
    ["INVITE to an extension, no credentials", (p) => probe(p, "INVITE", `sip:${victim.ext}@${t.domain}`)],
    ["INVITE to an unknown user", (p) => probe(p, "INVITE", `sip:nobody-${hex(2)}@${t.domain}`)],
    [
      "INVITE to a direct address (its phone registered: a call)",
      (p) => probe(p, "INVITE", `sip:direct.${victim.hash}@${DIRECT_DOMAIN}`),
    ],
    ["MESSAGE", (p) => probe(p, "MESSAGE", `sip:${victim.ext}@${t.domain}`)],
    ["SUBSCRIBE", (p) => probe(p, "SUBSCRIBE", `sip:${victim.ext}@${t.domain}`)],
  ];
  const probes = await Promise.all(
    kinds.map(async ([name, make]) => {
      const peer = await udpPeer(PROBER);
      const text = make(peer);
      peer.socket.send(text, t.sipPort, "127.0.0.1");
      return { name, peer, bytesIn: Buffer.byteLength(text, "latin1") };
    }),
  );
  await proc.sleep(waitS * 1000);
  const out: Probe[] = [];
  for (const p of probes) {
    const { datagrams, bytes, texts } = p.peer.got;
    out.push({ name: p.name, bytesIn: p.bytesIn, datagrams, bytesOut: bytes, statuses: texts.map(statusOf) });
    await p.peer.close();
  }
  for (const p of out)
    log(
      `amplification: ${p.name}: ${p.bytesIn} B in, ${p.datagrams} datagrams / ${p.bytesOut} B back (${p.statuses.join(" ")})`,
    );
  return out;
}

const probe = (p: UdpPeer, method: string, uri: string) =>
  request(p, { method, uri, from: `sip:scanner@${PROBER}`, to: uri, callId: `${hex()}@amp`, cseq: 1 });

export function amplificationLines(amp: Probe[], waitS: number): string[] {
  const rows = amp.map((p) => [
    p.name,
    fmt(p.bytesIn),
    fmt(p.datagrams),
    fmt(p.bytesOut),
    (p.bytesOut / p.bytesIn).toFixed(2),
    p.statuses.join(", ") || "none",
  ]);
  const worst = Math.max(...amp.map((p) => p.bytesOut / p.bytesIn));
  return [
    `### Amplification (one unauthenticated request each from ${PROBER}, answers counted for ${waitS} s)`,
    "",
    ...markdownTable("lrrrrl", [
      ["request", "bytes in", "datagrams back", "bytes back", "out / in", "statuses"],
      ...rows,
    ]),
    "",
    `**Worst ratio: ${worst.toFixed(2)}** (target: an answer never exceeds ~ the request, ≤ 1.0 and one datagram).`,
  ];
}
