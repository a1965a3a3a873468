// Responses a SIP element makes itself (RFC 3261 §8.2.6), the reason phrases it uses, and where
// any response to a request goes (§18.2.2 with RFC 3581 §4).
import type { SipRequest } from "./types.js";
import { formatVia, type Via } from "./via.js";

/** Where a request really came from (what a transport's flow says of it). */
export interface RequestSource {
  transport: string;
  remoteAddress: string;
  remotePort: number;
}

export const SERVER = "sipext";

export const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  405: "Method Not Allowed",
  408: "Request Timeout",
  416: "Unsupported URI Scheme",
  423: "Interval Too Brief",
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  487: "Request Terminated",
  500: "Server Internal Error",
  505: "Version Not Supported",
  513: "Message Too Large",
};

/** A response to `req`: the request's Via (top one stamped), From, To (tagged), Call-ID, CSeq. */
export function buildResponse(
  req: SipRequest,
  topVia: string,
  status: number,
  reason: string,
  extra: string[] = [],
  toTag?: string,
): Buffer {
  const h = req.headers;
  const vias = h.getAll("Via");
  let out = `SIP/2.0 ${status} ${reason}\r\nVia: ${topVia}\r\n`;
  for (let i = 1; i < vias.length; i++) out += `Via: ${vias[i]}\r\n`;
  const to = h.get("To") ?? "";
  // RFC 3261 §8.2.6.2: the UAS adds a tag to To when the request had none.
  const tagged = toTag && !/;\s*tag\s*=/i.test(to) ? `${to};tag=${toTag}` : to;
  out += `From: ${h.get("From") ?? ""}\r\nTo: ${tagged}\r\nCall-ID: ${h.get("Call-ID") ?? ""}\r\nCSeq: ${h.get("CSeq") ?? ""}\r\n`;
  for (const line of extra) out += `${line}\r\n`;
  out += `Server: ${SERVER}\r\nContent-Length: 0\r\n\r\n`;
  return Buffer.from(out, "utf8");
}

export interface ResponseRoute {
  address: string;
  port: number;
  /** the request's top Via stamped with received/rport */
  topVia: string;
}

/**
 * RFC 3261 §18.2.2 / RFC 3581 §4: where the response goes, and the top Via stamped with
 * `received` (when the source differs from sent-by) and `rport` (when the client asked).
 */
export function responseRoute(via: Via, flow: RequestSource): ResponseRoute {
  const params = new Map(via.params);
  const hostBare = via.host.startsWith("[") ? via.host.slice(1, -1) : via.host;
  if (hostBare !== flow.remoteAddress) params.set("received", flow.remoteAddress);
  const rport = params.has("rport");
  if (rport) {
    params.set("rport", String(flow.remotePort));
    if (!params.has("received")) params.set("received", flow.remoteAddress);
  }
  const topVia = formatVia({ ...via, params });
  const port = flow.transport === "UDP" && !rport ? (via.port ?? 5060) : flow.remotePort;
  return { address: flow.remoteAddress, port, topVia };
}
