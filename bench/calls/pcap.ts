// INVITE → 200 times read from a packet capture (tcpdump -w on the loopback interface) of the
// caller's SIP port: the time from the caller's first INVITE of a call leaving its socket to the
// first 200 for that INVITE reaching it, by Call-ID, with the kernel's microsecond timestamps.
// SIPp's own response times (-trace_rtt) count whole milliseconds only, too coarse for a proxy
// on the loopback interface.
//
// Reads what tcpdump writes on Linux for "lo": classic pcap, little-endian, microseconds, Ethernet
// frames; IPv4 only; UDP datagrams and TCP streams (segments reassembled in sequence order per
// direction, each message framed by Content-Length).
import { readFileSync } from "node:fs";

interface Segment {
  ts: number;
  srcPort: number;
  dstPort: number;
  /** TCP's sequence number; undefined for UDP */
  seq: number | undefined;
  payload: Buffer;
}

function* segments(file: string): Generator<Segment> {
  const buf = readFileSync(file);
  if (buf.length < 24) return;
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4 || buf.readUInt32LE(20) !== 1)
    throw new Error(`${file}: not a little-endian, microsecond pcap file of Ethernet frames`);
  for (let off = 24; off + 16 <= buf.length; ) {
    const [sec, micros, incl] = [buf.readUInt32LE(off), buf.readUInt32LE(off + 4), buf.readUInt32LE(off + 8)];
    off += 16;
    if (off + incl > buf.length) break;
    const frame = buf.subarray(off, off + incl);
    off += incl;
    if (frame.length < 34 || frame.readUInt16BE(12) !== 0x0800) continue; // not IPv4
    const ip = frame.subarray(14);
    if ((ip[0] ?? 0) >> 4 !== 4) continue;
    const l4 = ip.subarray(((ip[0] ?? 0) & 0x0f) * 4, Math.min(ip.readUInt16BE(2), ip.length));
    if (l4.length < 8) continue;
    const ports = { ts: sec * 1e6 + micros, srcPort: l4.readUInt16BE(0), dstPort: l4.readUInt16BE(2) };
    if (ip[9] === 17) yield { ...ports, seq: undefined, payload: l4.subarray(8) };
    else if (ip[9] === 6 && l4.length >= 20) {
      const payload = l4.subarray(((l4[12] ?? 0) >> 4) * 4);
      if (payload.length > 0) yield { ...ports, seq: l4.readUInt32BE(4), payload };
    }
  }
}

const HEADER_END = Buffer.from("\r\n\r\n");

/** Splits a TCP byte stream into SIP messages (keep-alive CRLFs skipped). */
class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);
  private nextSeq: number | undefined;

  push(seq: number, payload: Buffer): Buffer[] {
    let data = payload;
    if (this.nextSeq !== undefined) {
      // a retransmitted or overlapping segment: keep only the bytes not seen yet
      const behind = (this.nextSeq - seq) >>> 0;
      if (behind > 0 && behind < 0x80000000) {
        if (behind >= data.length) return [];
        data = data.subarray(behind);
      }
    }
    this.nextSeq = (seq + payload.length) >>> 0;
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    const out: Buffer[] = [];
    for (;;) {
      while (this.pending.length >= 2 && this.pending[0] === 13 && this.pending[1] === 10) {
        this.pending = this.pending.subarray(2);
      }
      const end = this.pending.indexOf(HEADER_END);
      if (end < 0) break;
      const head = this.pending.subarray(0, end).toString("latin1");
      const size = end + 4 + Number(/\r\n(?:Content-Length|l)\s*:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.pending.length < size) break;
      out.push(this.pending.subarray(0, size));
      this.pending = this.pending.subarray(size);
    }
    return out;
  }
}

const header = (head: string, names: string) =>
  new RegExp(`\\r\\n(?:${names})\\s*:\\s*([^\\r\\n]*)`, "i").exec(head)?.[1]?.trim();

/** INVITE → 200 times at the SIP endpoint on `port` (its outgoing calls), microseconds. */
export function inviteTo200(file: string, port: number) {
  const sentAt = new Map<string, number>();
  const answered = new Set<string>();
  const micros: number[] = [];
  const framers = new Map<string, StreamFramer>();
  const onMessage = (msg: Buffer, ts: number, outgoing: boolean) => {
    const end = msg.indexOf(HEADER_END);
    const head = msg.subarray(0, end < 0 ? msg.length : end).toString("latin1");
    const callId = header(head, "Call-ID|i");
    if (!callId) return;
    if (outgoing && head.startsWith("INVITE ")) {
      if (!sentAt.has(callId)) sentAt.set(callId, ts);
    } else if (!outgoing && head.startsWith("SIP/2.0 200") && /\bINVITE$/i.test(header(head, "CSeq") ?? "")) {
      const t0 = sentAt.get(callId);
      if (t0 === undefined || answered.has(callId)) return;
      answered.add(callId);
      micros.push(ts - t0);
    }
  };
  for (const seg of segments(file)) {
    const outgoing = seg.srcPort === port;
    if (!outgoing && seg.dstPort !== port) continue;
    if (seg.seq === undefined) {
      onMessage(seg.payload, seg.ts, outgoing);
      continue;
    }
    const key = `${seg.srcPort}>${seg.dstPort}`;
    const framer = framers.get(key) ?? new StreamFramer();
    framers.set(key, framer);
    for (const m of framer.push(seg.seq, seg.payload)) onMessage(m, seg.ts, outgoing);
  }
  return { micros, invites: sentAt.size, answered: micros.length };
}

/** The q-quantile (0..1) of `values`, nearest rank. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}
