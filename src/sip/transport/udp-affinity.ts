// Workers of one machine share the SIP UDP port (SIPEXT_WORKERS, CONTRACT §15), and the kernel
// hands each datagram to whichever worker happens to read first. A transaction's state lives in
// one process, so every datagram of one Call-ID — a request, its retransmissions, its CANCEL and
// ACK, the responses to what we forwarded, a phone's REGISTER refreshes (RFC 3261 §10.2.4 keeps
// the Call-ID) — is handled by the worker the Call-ID hashes to. A worker that reads another's
// datagram hands it over on that worker's own socket, wrapped with the address it came from and
// the workers' shared secret (the socket is reachable from outside, where other nodes' relays
// arrive: a datagram claiming a source address must prove it comes from a sibling).
import { timingSafeEqual } from "node:crypto";

/** What a worker's UDP transport needs to know of its siblings. */
export interface UdpAffinity {
  /** this worker's slot, 0 … slots-1 */
  slot: number;
  slots: number;
  /** shared by the workers of one machine (16 bytes), never sent anywhere else */
  secret: Buffer;
  /** the port of a sibling's own socket, undefined while it is unknown or the worker is down */
  siblingPort(slot: number): number | undefined;
  /** told the port of this worker's own socket once it is bound */
  bound(port: number): void;
}

/** First bytes of a handed-over datagram: neither SIP (a letter) nor STUN (0x00/0x01). */
const MAGIC = Buffer.from([0xfe, 0x53]);
const SECRET_BYTES = 16;
/** How far into a datagram a Call-ID is looked for (the headers come first). */
const SCAN_BYTES = 4096;
const CALL_ID = /\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)/i;

/** The Call-ID of a SIP message's bytes (long or compact form, RFC 3261 §7.3.3); undefined if none. */
export function callIdOf(data: Buffer): string | undefined {
  const head = data.toString("latin1", 0, Math.min(data.length, SCAN_BYTES));
  const end = head.indexOf("\r\n\r\n");
  const m = CALL_ID.exec(end < 0 ? head : head.slice(0, end + 2));
  const value = m?.[1]?.trim();
  return value ? value : undefined;
}

/** The slot a Call-ID belongs to: FNV-1a, the same in every worker. */
export function slotOf(callId: string, slots: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < callId.length; i++) {
    h ^= callId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % slots;
}

/** The worker that must handle `data`: its Call-ID's slot, or this one for what has none. */
export function ownerOf(data: Buffer, a: UdpAffinity): number {
  const callId = callIdOf(data);
  return callId === undefined ? a.slot : slotOf(callId, a.slots);
}

/** MAGIC, secret, address length, address, port (2 bytes), then the datagram. */
export function wrapDatagram(secret: Buffer, address: string, port: number, data: Buffer): Buffer {
  const addr = Buffer.from(address, "latin1");
  const head = Buffer.allocUnsafe(MAGIC.length + SECRET_BYTES + 1 + addr.length + 2);
  let at = MAGIC.copy(head, 0);
  at += secret.copy(head, at, 0, SECRET_BYTES);
  head[at++] = addr.length;
  at += addr.copy(head, at);
  head.writeUInt16BE(port, at);
  return Buffer.concat([head, data]);
}

export const isWrapped = (buf: Buffer): boolean =>
  buf.length > MAGIC.length && buf[0] === MAGIC[0] && buf[1] === MAGIC[1];

/** The datagram a sibling handed over and where it came from; undefined if not proven a sibling's. */
export function unwrapDatagram(
  secret: Buffer,
  buf: Buffer,
): { address: string; port: number; data: Buffer } | undefined {
  const at = MAGIC.length + SECRET_BYTES;
  if (!isWrapped(buf) || buf.length < at + 3) return undefined;
  if (!timingSafeEqual(buf.subarray(MAGIC.length, at), secret.subarray(0, SECRET_BYTES))) return undefined;
  const len = buf[at] ?? 0;
  if (buf.length < at + 1 + len + 2) return undefined;
  const address = buf.toString("latin1", at + 1, at + 1 + len);
  const port = buf.readUInt16BE(at + 1 + len);
  return { address, port, data: buf.subarray(at + 1 + len + 2) };
}
