// The SIP of bench:attack over UDP: REGISTER and other requests written by hand, a digest answer
// (right or wrong), and a legitimate phone's transaction as RFC 3261 §17.1.2 runs it (retransmitted
// at 500 ms, 1 s, 2 s, 4 s… until a final answer, or given up after Timer F, 32 s; here --timeout).
import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { digestHa1 } from "../../src/domain/secrets.js";
import { expectedResponse } from "../../src/sip/auth/digest.js";

export const hex = (bytes = 6) => randomBytes(bytes).toString("hex");

export interface UdpPeer {
  socket: Socket;
  address: string;
  port: number;
  /** datagrams and bytes received */
  got: { datagrams: number; bytes: number; texts: string[] };
  close(): Promise<void>;
}

/** A UDP socket on `address` (any 127/8 address is this machine), keeping what comes back. */
export async function udpPeer(address: string, keepTexts = true): Promise<UdpPeer> {
  const socket = createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, address, () => r()));
  const got = { datagrams: 0, bytes: 0, texts: [] as string[] };
  socket.on("message", (m) => {
    got.datagrams++;
    got.bytes += m.length;
    if (keepTexts) got.texts.push(m.toString("latin1"));
  });
  const close = () => new Promise<void>((r) => socket.close(() => r()));
  return { socket, address, port: socket.address().port, got, close };
}

/** A request from `peer`: the start line, then the headers every request has, then `extra`. */
export function request(
  peer: UdpPeer,
  o: {
    method: string;
    uri: string;
    from: string;
    to: string;
    callId: string;
    cseq: number;
    extra?: string[];
  },
): string {
  return [
    `${o.method} ${o.uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${peer.address}:${peer.port};branch=z9hG4bK-${hex()};rport`,
    "Max-Forwards: 70",
    `From: <${o.from}>;tag=${hex(4)}`,
    `To: <${o.to}>`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${o.method}`,
    `Contact: <sip:bench@${peer.address}:${peer.port}>`,
    ...(o.extra ?? []),
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/** A REGISTER of `ext` at `domain`, with an Authorization line when given. */
export const register = (
  peer: UdpPeer,
  ext: string,
  domain: string,
  callId: string,
  cseq: number,
  auth?: string,
) =>
  request(peer, {
    method: "REGISTER",
    uri: `sip:${domain}`,
    from: `sip:${ext}@${domain}`,
    to: `sip:${ext}@${domain}`,
    callId,
    cseq,
    extra: ["Expires: 600", ...(auth ? [auth] : [])],
  });

/** The Authorization line answering the 401 `challenge` with `password` (MD5, qop=auth). */
export function authorization(challenge: string, ext: string, domain: string, password: string): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? "";
  const [uri, cnonce, nc] = [`sip:${domain}`, hex(4), "00000001"];
  const creds = { username: ext, realm: domain, nonce, uri, response: "", algorithm: "MD5" as const };
  const ha1 = digestHa1(ext, domain, password).md5;
  const response = expectedResponse(ha1, "REGISTER", { ...creds, qop: "auth", nc, cnonce });
  return `Authorization: Digest username="${ext}", realm="${domain}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

export const statusOf = (m: string) => Number(/^SIP\/2\.0 (\d{3})/.exec(m)?.[1] ?? 0);
const cseqOf = (m: string) => /\r\nCSeq:\s*([^\r]+)/i.exec(m)?.[1]?.trim();
const callIdOf = (m: string) => /\r\nCall-ID:\s*([^\r]+)/i.exec(m)?.[1]?.trim();

/**
 * Sends `text` to 127.0.0.1:port and resends it as a UDP client transaction does (Timer E) until
 * a final response (≥ 200) with its Call-ID and CSeq arrives; undefined after `timeoutMs`.
 */
export async function transaction(peer: UdpPeer, port: number, text: string, timeoutMs: number) {
  const [callId, cseq] = [callIdOf(`\r\n${text}`), cseqOf(`\r\n${text}`)];
  const from = peer.got.texts.length;
  const started = performance.now();
  let interval = 500;
  let next = started;
  while (performance.now() - started < timeoutMs) {
    if (performance.now() >= next) {
      peer.socket.send(text, port, "127.0.0.1");
      next = performance.now() + interval;
      interval = Math.min(interval * 2, 4_000);
    }
    const final = peer.got.texts
      .slice(from)
      .find((m) => statusOf(m) >= 200 && callIdOf(m) === callId && cseqOf(m) === cseq);
    if (final) return final;
    await new Promise((r) => setTimeout(r, 2));
  }
  return undefined;
}

/** A legitimate phone's registration: REGISTER → 401 → REGISTER with digest; its status and time. */
export async function registerWithDigest(
  peer: UdpPeer,
  port: number,
  who: { ext: string; domain: string; password: string },
  timeoutMs: number,
): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const callId = `${hex()}@legit`;
  const challenge = await transaction(peer, port, register(peer, who.ext, who.domain, callId, 1), timeoutMs);
  if (!challenge || statusOf(challenge) !== 401)
    return { status: challenge ? statusOf(challenge) : 0, ms: performance.now() - started };
  const auth = authorization(challenge, who.ext, who.domain, who.password);
  const left = timeoutMs - (performance.now() - started);
  const done = await transaction(peer, port, register(peer, who.ext, who.domain, callId, 2, auth), left);
  return { status: done ? statusOf(done) : 0, ms: performance.now() - started };
}
