// INVITE → 200 times read from a packet capture (tcpdump -w on the loopback interface) of the
// caller's SIP port: the time from the caller's first INVITE of a call leaving its socket to the
// first 200 for that INVITE reaching it, by Call-ID, with the kernel's microsecond timestamps.
// SIPp's own response times (-trace_rtt) count whole milliseconds only, too coarse for a proxy
// on the loopback interface.
//
// Reads classic pcap files (microsecond or nanosecond), link types Ethernet (what Linux gives for
// "lo"), Linux cooked v1/v2, BSD loopback and raw IP; IPv4 only; UDP datagrams and TCP streams
// (segments reassembled in sequence order per direction, each message framed by Content-Length).
import { readFileSync } from "node:fs";

export interface CaptureTimes {
  /** INVITE → 200 of every call that had both, microseconds */
  micros: number[];
  invites: number;
  answered: number;
  packets: number;
}

interface Segment {
  ts: number;
  srcPort: number;
  dstPort: number;
  proto: "udp" | "tcp";
  seq: number;
  payload: Buffer;
}

function linkHeaderLength(linkType: number, pkt: Buffer): number | undefined {
  switch (linkType) {
    case 1: // Ethernet
      return pkt.length >= 14 && pkt.readUInt16BE(12) === 0x0800 ? 14 : undefined;
    case 113: // Linux cooked v1
      return pkt.length >= 16 && pkt.readUInt16BE(14) === 0x0800 ? 16 : undefined;
    case 276: // Linux cooked v2
      return pkt.length >= 20 && pkt.readUInt16BE(0) === 0x0800 ? 20 : undefined;
    case 0: // BSD loopback
      return 4;
    case 101: // raw IP
    case 12:
      return 0;
    default:
      return undefined;
  }
}

function* segments(file: string): Generator<Segment> {
  const buf = readFileSync(file);
  if (buf.length < 24) return;
  const magicLe = buf.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d) {
    le = true;
    nano = magicLe === 0xa1b23c4d;
  } else {
    const magicBe = buf.readUInt32BE(0);
    if (magicBe !== 0xa1b2c3d4 && magicBe !== 0xa1b23c4d) throw new Error(`${file}: not a pcap file`);
    le = false;
    nano = magicBe === 0xa1b23c4d;
  }
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20);
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    off += 16;
    if (off + incl > buf.length) break;
    const pkt = buf.subarray(off, off + incl);
    off += incl;
    const l2 = linkHeaderLength(linkType, pkt);
    if (l2 === undefined || pkt.length < l2 + 20) continue;
    const ip = pkt.subarray(l2);
    if (ip[0] === undefined || ip[0] >> 4 !== 4) continue;
    const ihl = (ip[0] & 0x0f) * 4;
    const total = ip.readUInt16BE(2);
    const proto = ip[9];
    const l4 = ip.subarray(ihl, Math.min(total, ip.length));
    const ts = sec * 1e6 + (nano ? frac / 1000 : frac);
    if (proto === 17 && l4.length >= 8) {
      yield {
        ts,
        srcPort: l4.readUInt16BE(0),
        dstPort: l4.readUInt16BE(2),
        proto: "udp",
        seq: 0,
        payload: l4.subarray(8),
      };
    } else if (proto === 6 && l4.length >= 20) {
      const dataOff = ((l4[12] ?? 0) >> 4) * 4;
      const payload = l4.subarray(dataOff);
      if (payload.length === 0) continue;
      yield {
        ts,
        srcPort: l4.readUInt16BE(0),
        dstPort: l4.readUInt16BE(2),
        proto: "tcp",
        seq: l4.readUInt32BE(4),
        payload,
      };
    }
  }
}

const HEADER_END = Buffer.from("\r\n\r\n");

/** Splits a TCP byte stream into SIP messages (keep-alive CRLFs skipped). */
class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);
  private nextSeq: number | undefined;

  push(seg: Segment): Buffer[] {
    let data = seg.payload;
    if (this.nextSeq !== undefined) {
      // a retransmitted or overlapping segment: keep only the bytes not seen yet
      const behind = (this.nextSeq - seg.seq) >>> 0;
      if (behind > 0 && behind < 0x80000000) {
        if (behind >= data.length) return [];
        data = data.subarray(behind);
      }
    }
    this.nextSeq = (seg.seq + seg.payload.length) >>> 0;
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    const out: Buffer[] = [];
    for (;;) {
      while (this.pending.length >= 2 && this.pending[0] === 13 && this.pending[1] === 10) {
        this.pending = this.pending.subarray(2);
      }
      const end = this.pending.indexOf(HEADER_END);
      if (end < 0) break;
      const head = this.pending.subarray(0, end).toString("latin1");
      const len = Number(/\r\n(?:Content-Length|l)\s*:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      const size = end + 4 + len;
      if (this.pending.length < size) break;
      out.push(this.pending.subarray(0, size));
      this.pending = this.pending.subarray(size);
    }
    return out;
  }
}

function header(head: string, long: string, short: string): string | undefined {
  const re = new RegExp(`\\r\\n(?:${long}|${short})\\s*:\\s*([^\\r\\n]*)`, "i");
  return re.exec(head)?.[1]?.trim();
}

/** INVITE → 200 times at the SIP endpoint on `port` (its outgoing calls). */
export function inviteTo200(file: string, port: number): CaptureTimes {
  const sentAt = new Map<string, number>();
  const micros: number[] = [];
  const answeredIds = new Set<string>();
  const framers = new Map<string, StreamFramer>();
  let packets = 0;
  const onMessage = (msg: Buffer, ts: number, outgoing: boolean) => {
    const end = msg.indexOf(HEADER_END);
    const head = msg.subarray(0, end < 0 ? msg.length : end).toString("latin1");
    const firstLine = head.slice(0, head.indexOf("\r\n"));
    const callId = header(head, "Call-ID", "i");
    if (!callId) return;
    if (outgoing && firstLine.startsWith("INVITE ")) {
      if (!sentAt.has(callId)) sentAt.set(callId, ts);
    } else if (!outgoing && firstLine.startsWith("SIP/2.0 200")) {
      const cseq = header(head, "CSeq", "CSeq") ?? "";
      if (!/\bINVITE$/i.test(cseq) || answeredIds.has(callId)) return;
      const t0 = sentAt.get(callId);
      if (t0 === undefined) return;
      answeredIds.add(callId);
      micros.push(ts - t0);
    }
  };
  for (const seg of segments(file)) {
    const outgoing = seg.srcPort === port;
    if (!outgoing && seg.dstPort !== port) continue;
    packets++;
    if (seg.proto === "udp") {
      onMessage(seg.payload, seg.ts, outgoing);
      continue;
    }
    const key = `${seg.srcPort}>${seg.dstPort}`;
    let framer = framers.get(key);
    if (!framer) {
      framer = new StreamFramer();
      framers.set(key, framer);
    }
    for (const m of framer.push(seg)) onMessage(m, seg.ts, outgoing);
  }
  return { micros, invites: sentAt.size, answered: micros.length, packets };
}

/** The q-quantile (0..1) of `values`, nearest rank. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}
