// What went out, told where it goes out (CONTRACT §12: sipext_sip_responses_sent_total by
// method and class): every transport hands its outgoing bytes here. A response is recognised by
// its start line and its method read from CSeq by comparing bytes, without parsing the message
// again or making a string (this runs for every message sent).
import { SIP_METHODS, type SipMethodLabel } from "../observer.js";
import type { TransportStats } from "./flow.js";

const CSEQ = Buffer.from("\nCSeq:");
const SP = 0x20;
const HTAB = 0x09;
const METHOD_BYTES = SIP_METHODS.map((m) => [m, Buffer.from(m)] as const);

/** "SIP/2.0 " at the start: a response (RFC 3261 §7.2). */
const isResponse = (d: Buffer) =>
  d[0] === 0x53 && d[1] === 0x49 && d[2] === 0x50 && d[3] === 0x2f && d[7] === SP && d[8] !== undefined;

/** The method of the CSeq header (RFC 3261 §20.16: `CSeq: 1 REGISTER`), "other" when unknown. */
function cseqMethod(data: Buffer): SipMethodLabel {
  const at = data.indexOf(CSEQ);
  if (at < 0) return "other";
  let i = at + CSEQ.length;
  for (let b = data[i]; b === SP || b === HTAB || (b !== undefined && b >= 0x30 && b <= 0x39); b = data[++i]);
  const start = i;
  for (let b = data[i]; b !== undefined && b > SP; b = data[++i]);
  const length = i - start;
  for (const [method, bytes] of METHOD_BYTES) {
    if (bytes.length !== length) continue;
    let k = 0;
    while (k < length && bytes[k] === data[start + k]) k++;
    if (k === length) return method;
  }
  return "other";
}

/** Tells the observer of `data` when it is a response. */
export function countSent(stats: TransportStats, data: Buffer): void {
  if (!isResponse(data)) return;
  stats.observer.responseSent(cseqMethod(data), (data[8] ?? 0x30) - 0x30);
}
