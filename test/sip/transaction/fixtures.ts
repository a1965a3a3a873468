// Messages for the transaction tests, parsed from literal SIP text, and a recording transport.
// The INVITE is as a stateful proxy forwards it: our Via on top of the caller's, a route set.
import { vi } from "vitest";
import { parseMessage } from "../../../src/sip/message/parser.js";
import type { SipMessage, SipRequest, SipResponse } from "../../../src/sip/message/types.js";

/** Joins header lines, adds Content-Length for the body and the blank line. */
export function sipText(lines: readonly string[], body = ""): string {
  return `${lines.join("\r\n")}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export function parse(data: Buffer | string): SipMessage {
  const r = parseMessage(typeof data === "string" ? Buffer.from(data) : data);
  if (!r.ok) throw new Error(`fixture does not parse: ${r.reason}`);
  return r.message;
}

export function parseRequest(data: Buffer | string): SipRequest {
  const m = parse(data);
  if (m.kind !== "request") throw new Error("not a request");
  return m;
}

export function parseResponse(data: Buffer | string): SipResponse {
  const m = parse(data);
  if (m.kind !== "response") throw new Error("not a response");
  return m;
}

export const TOP_VIA = "SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKproxy.1a2b";
const CALLER_VIA = "SIP/2.0/UDP 192.0.2.10:5062;received=192.0.2.10;rport=5062;branch=z9hG4bKalice.77";
export const FROM = '"Alice" <sip:alice@example.com>;tag=a73kszlfl';
export const CALL_ID = "1j9FpLxk3uxtm8tn@192.0.2.10";
export const REQUEST_URI = "sip:bob@192.0.2.20:5070;transport=udp";

const SDP =
  "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n";

export function invite(): SipRequest {
  return parseRequest(
    sipText(
      [
        `INVITE ${REQUEST_URI} SIP/2.0`,
        `Via: ${TOP_VIA}`,
        `Via: ${CALLER_VIA}`,
        "Max-Forwards: 69",
        "Route: <sip:edge1.example.net;lr>",
        "Route: <sip:edge2.example.net;lr>, <sip:edge3.example.net;lr>",
        "Record-Route: <sip:198.51.100.1;lr>",
        `From: ${FROM}`,
        "To: <sip:bob@example.com>",
        `Call-ID: ${CALL_ID}`,
        "CSeq: 314159 INVITE",
        "Contact: <sip:alice@192.0.2.10:5062>",
        "Content-Type: application/sdp",
      ],
      SDP,
    ),
  );
}

/** A non-INVITE request (BYE by default) as a proxy forwards it. */
export function nonInvite(method = "BYE"): SipRequest {
  return parseRequest(
    sipText([
      `${method} ${REQUEST_URI} SIP/2.0`,
      `Via: ${TOP_VIA}`,
      `Via: ${CALLER_VIA}`,
      "Max-Forwards: 69",
      `From: ${FROM}`,
      "To: <sip:bob@example.com>;tag=314bob",
      `Call-ID: ${CALL_ID}`,
      `CSeq: 314160 ${method}`,
    ]),
  );
}

const REASONS: Record<number, string> = {
  100: "Trying",
  180: "Ringing",
  183: "Session Progress",
  200: "OK",
  302: "Moved Temporarily",
  404: "Not Found",
  486: "Busy Here",
  503: "Service Unavailable",
  603: "Decline",
};

/** A response to the INVITE (or to `method`), with a To tag unless told otherwise. */
export function response(status: number, opts: { toTag?: string | null; method?: string } = {}): SipResponse {
  const tag = opts.toTag === undefined ? "bob-9f8e" : opts.toTag;
  const method = opts.method ?? "INVITE";
  const seq = method === "INVITE" ? 314159 : 314160;
  return parseResponse(
    sipText([
      `SIP/2.0 ${status} ${REASONS[status] ?? "Whatever"}`,
      `Via: ${TOP_VIA}`,
      `Via: ${CALLER_VIA}`,
      `From: ${FROM}`,
      `To: <sip:bob@example.com>${tag === null ? "" : `;tag=${tag}`}`,
      `Call-ID: ${CALL_ID}`,
      `CSeq: ${seq} ${method}`,
    ]),
  );
}

export interface Sent {
  /** ms since the wire was made (fake time) */
  at: number;
  data: Buffer;
}

/** A transport that records what it is given and when. */
export function wire(): { sent: Sent[]; send: (data: Buffer) => void; times: () => number[] } {
  const t0 = Date.now();
  const sent: Sent[] = [];
  return {
    sent,
    send: (data) => {
      sent.push({ at: Date.now() - t0, data });
    },
    times: () => sent.map((s) => s.at),
  };
}

/** A transaction user that records what it is told. */
export function recordingUser() {
  return { onResponse: vi.fn<(res: SipResponse) => void>(), onTimeout: vi.fn<() => void>() };
}

/** The statuses passed to the user, in order. */
export const statuses = (user: ReturnType<typeof recordingUser>): number[] =>
  user.onResponse.mock.calls.map(([res]) => res.status);
