// The proxy's message edits, each a pure function of its inputs (RFC 3261 §16.6, §9.1, §16.7):
// the copy of a request sent to one target, the CANCEL of a branch, a response as it goes
// upstream, and where a response goes that has no server transaction. Nothing here sends.
import { getCSeq, getVias, parseMaxForwards } from "../message/fields.js";
import { removeTopVia } from "../message/raw-edit.js";
import { serialize } from "../message/serializer.js";
import { OUR_BRANCH_PREFIX } from "../message/tags.js";
import type { SipRequest, SipResponse } from "../message/types.js";
import { formatVia } from "../message/via.js";
import { topBranch } from "../transaction/matching.js";
import {
  type Flow,
  type FlowAddress,
  type SelfAddress,
  type TransportName,
  transportNamed,
} from "../transport/flow.js";

/** The Record-Route URI parameters holding the caller's (a) and callee's (b) flow tokens. */
export const FLOW_A = "sxa";
export const FLOW_B = "sxb";
/** The Route parameter of a request another node sends us for a phone on our connection (§15). */
export const FLOW_NODE = "sxn";
/** The largest UDP payload over IPv4: a request beyond it cannot go to a device on a UDP flow. */
const MAX_DATAGRAM = 65_507;

export interface ForwardOptions {
  /** the address written into our Via and Record-Route, per transport */
  self: SelfAddress;
  /** the Request-URI for a target of ours (§16.6 step 2); undefined keeps the request's */
  requestUri: string | undefined;
  target: FlowAddress;
  /** the Route set after our own entries were taken off (§16.4); undefined keeps it as it is */
  routes: string[] | undefined;
  /** signed flow tokens of both ends for our Record-Route (§16.6 step 4); undefined: none */
  recordRoute: { caller: string; callee: string } | undefined;
  /** the branch of our Via (§16.6 step 8) */
  branch: string;
}

/**
 * §16.6: the copy sent to one target. Request-URI set for a target of ours, Max-Forwards
 * decremented, our Record-Route (with both flows) for a dialog-creating request, our own
 * Route entries and our realm's Proxy-Authorization removed, the top Via stamped with
 * received/rport and our Via on top.
 */
export function forwardCopy(req: SipRequest, flow: Flow, o: ForwardOptions): SipRequest {
  const h = req.headers.clone();
  const mf = parseMaxForwards(h.get("Max-Forwards") ?? "70") ?? 70;
  h.set("Max-Forwards", String(mf - 1));
  if (o.routes !== undefined) {
    h.remove("Route");
    for (const r of o.routes) h.append("Route", r);
  }
  h.remove("Proxy-Authorization");
  const vias = h.getAll("Via");
  h.remove("Via");
  const stamped = [...vias];
  const top = getVias(req.headers)?.[0];
  if (top) {
    const params = new Map(top.params);
    if (params.has("rport")) params.set("rport", String(flow.remotePort));
    const host = top.host.startsWith("[") ? top.host.slice(1, -1) : top.host;
    if (host !== flow.remoteAddress || params.has("rport")) params.set("received", flow.remoteAddress);
    stamped[0] = formatVia({ ...top, params });
  }
  const { host, ports } = o.self;
  const at = (t: TransportName) => `${host}:${ports[t] ?? ports.UDP}`;
  const ourVia = `SIP/2.0/${o.target.transport} ${at(o.target.transport)};branch=${o.branch};rport`;
  for (const v of [ourVia, ...stamped].reverse()) h.prepend("Via", v);
  if (o.recordRoute) {
    const tokens = `;${FLOW_A}=${o.recordRoute.caller};${FLOW_B}=${o.recordRoute.callee}`;
    const rr = (t: TransportName) => `<sip:${at(t)};transport=${t.toLowerCase()};lr${tokens}>`;
    // Transports differ: one entry faces each side (double Record-Route), so each end reaches
    // us on its own transport and port (RFC 5658 §3, RFC 7118 §5.3); both carry the flows.
    if (flow.transport !== o.target.transport) h.prepend("Record-Route", rr(flow.transport));
    h.prepend("Record-Route", rr(o.target.transport));
  }
  return { ...req, uri: o.requestUri ?? req.uri, headers: h };
}

/**
 * The branch of a request relayed statelessly (an ACK for a 2xx, §16.11): derived from the
 * incoming one, so a retransmission leaves with the same branch.
 */
export const statelessBranch = (req: SipRequest): string =>
  `${OUR_BRANCH_PREFIX}${Buffer.from(topBranch(req)).toString("base64url").slice(-24)}`;

/** §9.1: the CANCEL of an INVITE as we sent it — same Request-URI, Call-ID, To, From, CSeq number and top Via. */
export function cancelFor(invite: SipRequest): SipRequest {
  const h = invite.headers.clone();
  const vias = h.getAll("Via");
  h.remove("Via");
  if (vias[0]) h.prepend("Via", vias[0]);
  const cseq = getCSeq(invite.headers);
  h.set("CSeq", `${cseq?.seq ?? 1} CANCEL`);
  h.set("Max-Forwards", "70");
  for (const name of ["Contact", "Record-Route", "Content-Type", "Supported", "Allow", "Require"])
    h.remove(name);
  return { ...invite, method: "CANCEL", headers: h, body: Buffer.alloc(0) };
}

/** §16.7 step 3: a response as it goes upstream, without our Via (edited in its bytes when it can be). */
export function upstream(res: SipResponse): Buffer {
  const edited = res.raw && removeTopVia(res.raw);
  if (edited) return edited;
  const h = res.headers.clone();
  const vias = h.getAll("Via");
  h.remove("Via");
  for (const v of vias.slice(1).reverse()) h.prepend("Via", v);
  return serialize({ ...res, headers: h });
}

/** Where a response goes that has no server transaction: the next Via (§18.2.2 with RFC 3581). */
export function nextHop(res: SipResponse): FlowAddress | undefined {
  const next = getVias(res.headers)?.[1];
  if (!next) return undefined;
  const host = next.params.get("received") ?? next.host;
  const address = host.startsWith("[") ? host.slice(1, -1) : host;
  const rport = next.params.get("rport");
  const port = rport ? Number(rport) : (next.port ?? 5060);
  return { transport: transportNamed(next.transport) ?? "UDP", address, port };
}

/**
 * RFC 3261 §18.1.1 would move a large request to TCP, but a device is reachable only on the flow
 * it registered over: over UDP, a request beyond one datagram cannot be sent at all.
 */
export const tooLargeFor = (target: FlowAddress, bytes: Buffer): boolean =>
  target.transport === "UDP" && bytes.length > MAX_DATAGRAM;
