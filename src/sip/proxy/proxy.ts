// The transaction-stateful proxy (RFC 3261 §16) for the two kinds of address sipext answers
// for: an extension's own address (callers authenticate as an extension of the same customer,
// 407) and its public direct URI (open to anyone). Calls fork in parallel to every live binding,
// the first 2xx wins and the other branches are CANCELed, otherwise the best final response is
// sent (§16.7). The proxy Record-Routes with signed flow tokens of both ends, so in-dialog
// requests (ACK, BYE, re-INVITE, UPDATE, INFO) come back through it and find each device on the
// flow it really uses, behind NAT too, without any dialog state here.

import { detach } from "../../util/strings.js";
import { formatChallenge, parseAuthHeader } from "../message/auth-header.js";
import { getCSeq, getVias, parseMaxForwards } from "../message/fields.js";
import { parseNameAddr } from "../message/name-addr.js";
import { removeTopVia } from "../message/raw-edit.js";
import { serialize } from "../message/serializer.js";
import type { SipRequest, SipResponse } from "../message/types.js";
import { formatVia } from "../message/via.js";
import { randomBase64url, randomHex } from "../random.js";
import type { DigestAuthenticator } from "../registrar/authenticator.js";
import type { Binding, LocationService } from "../registrar/location.js";
import type { NonceService } from "../registrar/nonce.js";
import { buildResponse, REASONS, type ResponseRoute } from "../response.js";
import { ExpiringMap } from "../transaction/expiring-map.js";
import { InviteClientTransaction } from "../transaction/invite-client.js";
import { InviteServerTransaction, TIMER_L } from "../transaction/invite-server.js";
import { NonInviteClientTransaction } from "../transaction/non-invite-client.js";
import type { NonInviteServerTransactions, ServerTransaction } from "../transaction/non-invite-server.js";
import { T1, type Timers } from "../transaction/timers.js";
import type { Flow } from "../transport/types.js";
import { type FlowAddress, FlowTokens, sameFlow } from "./flow-token.js";
import { type CallTargetSource, classifyAddress } from "./targets.js";

export interface ProxyLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ProxyOptions {
  /** the address written into our Via and Record-Route */
  self: { host: string; port: number };
  registrarDomain: string;
  directDomain: string;
  targets: CallTargetSource;
  location: LocationService;
  authenticator: DigestAuthenticator;
  nonces: NonceService;
  flowKey: Buffer;
  /** sends bytes toward a flow (UDP datagram, or the TCP connection to that address) */
  send(target: FlowAddress, data: Buffer): void;
  /** the stack's non-INVITE server transactions (proxied BYE, CANCEL, ...) */
  nonInviteServer: NonInviteServerTransactions;
  /** an unanswered call is given up after this long: branches CANCELed, caller gets 480 */
  ringTimeoutMs?: number;
  timers?: Timers;
  logger: ProxyLogger;
}

/** Dialog-creating methods get our Record-Route (§16.6 step 4). */
const DIALOG_CREATING = new Set(["INVITE", "SUBSCRIBE", "REFER", "NOTIFY"]);
const MAGIC_COOKIE = "z9hG4bK";
/** 64*T1: how long a CANCELed branch may go without a final response (§9.1). */
const CANCEL_GUARD_MS = 64 * T1;
/** the Record-Route URI parameters holding the caller's (a) and callee's (b) flow tokens */
const FLOW_A = "sxa";
const FLOW_B = "sxb";
/** The largest UDP payload over IPv4: a request beyond it cannot go to a device on a UDP flow. */
const MAX_DATAGRAM = 65_507;

interface Target {
  uri: string;
  flow: FlowAddress;
}

/** Where a request goes, or why not. */
type Decision =
  | { kind: "reject"; status: number; reason: string; extra?: string[] }
  | { kind: "fork"; targets: Target[]; recordRoute: boolean }
  | { kind: "in-dialog"; destination: FlowAddress; routes: string[] };

// A call outlives its answer by 32 s (the transactions' Timers L and M, RFC 6026), thousands of
// calls at a busy proxy's call rate: what only the routing needs (the messages) is dropped as
// soon as it is no longer needed, and a call answered with a 2xx whose branches are all over is
// retired to its key alone (see maybeRetire()).

interface Branch {
  call: Call;
  /** undefined for a branch that failed before it was sent (513) */
  tx: InviteClientTransaction | undefined;
  /** the INVITE as sent, while the branch may still need CANCELing (§9.1 builds from it) */
  request: SipRequest | undefined;
  target: FlowAddress;
  provisional: boolean;
  /** the branch's outcome: a device's final status, or our own (408, 487, 513) */
  status: number | undefined;
  /** true when the device sent a final of its own (then there is nothing to CANCEL) */
  answered: boolean;
  /** the device's 300-699, kept until the call's final is chosen (§16.7 step 6 may relay it) */
  response: SipResponse | undefined;
  cancelWhenProvisional: boolean;
  canceled: boolean;
}

/** The response context of one proxied INVITE (§16.7). */
interface Call {
  /** the INVITE server transaction's key (a detached copy) */
  key: string;
  server: InviteServerTransaction;
  /** the INVITE and where its responses go, until the final response was sent */
  request: SipRequest | undefined;
  topVia: string | undefined;
  branches: Branch[];
  finalSent: number;
  canceled: boolean;
  noAnswer: boolean;
  ringTimer: NodeJS.Timeout | undefined;
  toTag: string;
}

const newBranch = () => `${MAGIC_COOKIE}-sx${randomBase64url(9)}`;
const topBranch = (m: SipRequest | SipResponse) => getVias(m.headers)?.[0]?.params.get("branch") ?? "";

/**
 * RFC 3261 §18.1.1 would move a large request to TCP, but a device is reachable only on the flow
 * it registered over: over UDP, a request beyond one datagram cannot be sent at all.
 */
function tooLargeFor(target: FlowAddress, bytes: Buffer): boolean {
  return target.transport === "UDP" && bytes.length > MAX_DATAGRAM;
}

/** The URI of a Route / Record-Route value, and its parameters. */
function routeParams(value: string): { uri: string; params: Map<string, string | null> } | undefined {
  const na = parseNameAddr(value);
  if (!na?.sipUri) return undefined;
  return { uri: na.uri, params: na.sipUri.params };
}

/** A branch's giving up (a timeout, no answer, our CANCEL) rather than a device's own answer. */
const GAVE_UP = new Set([408, 480, 487]);

function rank(status: number): number {
  // §16.7 step 6: 6xx first; then the lowest class; 408/480/487 (our own or a branch's giving up)
  // lose to a real answer of the same class such as 486 Busy Here.
  if (status >= 600) return 0;
  if (GAVE_UP.has(status)) return status / 100 + 0.5;
  return status / 100;
}

/** How the stack sees an INVITE server transaction: retransmissions and ACKs matched to it. */
export type InviteMatch = Pick<InviteServerTransaction, "receiveRequestRetransmission" | "receiveAck">;

/**
 * A retired call's INVITE server transaction, in RFC 6026's Accepted state: retransmissions of
 * the INVITE are absorbed, and the ACK of the 2xx is not the transaction's (the proxy routes it).
 */
const ACCEPTED: InviteMatch = {
  receiveRequestRetransmission() {},
  receiveAck: () => false,
};

export class SipProxy {
  private readonly calls = new Map<string, Call>();
  /** the keys of retired calls, for the rest of their Timer L */
  private readonly answered = new ExpiringMap<true>(TIMER_L);
  private readonly clients = new Map<string, InviteClientTransaction | NonInviteClientTransaction>();
  private readonly flows: FlowTokens;
  private readonly ringTimeoutMs: number;
  private readonly selfVia: { host: string; port: number };

  constructor(private readonly o: ProxyOptions) {
    this.flows = new FlowTokens(o.flowKey);
    this.ringTimeoutMs = o.ringTimeoutMs ?? 180_000;
    this.selfVia = o.self;
  }

  /** Is this request for us to route (an extension address, a direct URI or one of our routes)? */
  handles(req: SipRequest): boolean {
    if (this.ourRoutes(req).length > 0) return true;
    const uri = req.requestUri;
    if (!uri) return false;
    return (
      classifyAddress(uri.user, uri.host, this.o.registrarDomain, this.o.directDomain).kind !== "foreign"
    );
  }

  // ---------------------------------------------------------------- requests

  /** A new INVITE (retransmissions are matched by the caller through inviteTransaction()). */
  async onInvite(req: SipRequest, flow: Flow, route: ResponseRoute, inviteKey: string): Promise<void> {
    // The key is built of pieces of the INVITE's text: kept 32 s, it must not hold the message.
    const key = detach(inviteKey);
    const { address, port } = route;
    const server = new InviteServerTransaction({
      send: (data) => flow.send(data, address, port),
      reliable: flow.transport !== "UDP",
      ...(this.o.timers ? { timers: this.o.timers } : {}),
      onTerminated: () => this.calls.delete(key),
    });
    const call: Call = {
      key,
      server,
      request: req,
      topVia: route.topVia,
      branches: [],
      finalSent: 0,
      canceled: false,
      noAnswer: false,
      ringTimer: undefined,
      toTag: randomHex(6),
    };
    this.calls.set(key, call);
    // §16.2: a proxy answers 100 Trying to an INVITE it will take a while on.
    server.respond(100, buildResponse(req, route.topVia, 100, "Trying"));
    let decision: Decision;
    try {
      decision = await this.decide(req, flow);
    } catch (err) {
      this.o.logger.warn({ err }, "INVITE routing failed");
      decision = { kind: "reject", status: 500, reason: "Server Internal Error" };
    }
    if (call.canceled) {
      this.reply(call, 487, "Request Terminated");
      return;
    }
    if (decision.kind === "reject") {
      this.reply(call, decision.status, decision.reason, decision.extra);
      return;
    }
    const targets =
      decision.kind === "fork" ? decision.targets : [{ uri: req.uri, flow: decision.destination }];
    for (const t of targets) this.forkBranch(call, req, flow, t, decision);
    if (decision.kind === "fork") {
      call.ringTimer = setTimeout(() => this.giveUp(call), this.ringTimeoutMs);
      call.ringTimer.unref();
    }
    // Every branch may have failed at once (too large to send).
    this.maybeFinish(call);
  }

  /** The INVITE server transaction for a retransmitted INVITE or its ACK, if any. */
  inviteTransaction(key: string): InviteMatch | undefined {
    return this.calls.get(key)?.server ?? (this.answered.has(key) ? ACCEPTED : undefined);
  }

  /** An ACK no server transaction took: the ACK of a 2xx, routed end to end (§16.11 stateless). */
  async onAck(req: SipRequest, flow: Flow): Promise<void> {
    // Awaited exactly as onRequest awaits it (no extra .catch() hop): an ACK and the BYE read
    // right after it from one TCP segment must leave in the order they came.
    let decision: Decision | undefined;
    try {
      decision = await this.decide(req, flow);
    } catch {
      return;
    }
    if (decision.kind !== "in-dialog") return; // an ACK is never answered
    const fwd = this.forwardCopy(req, flow, undefined, decision.destination, decision.routes, false);
    // Stateless: the branch is derived from the incoming one, so a retransmitted ACK gets the same.
    this.o.send(decision.destination, serialize(fwd));
  }

  /** CANCEL of a pending INVITE (§16.10): 200 at once, then the branches are CANCELed. */
  onCancel(req: SipRequest, tx: ServerTransaction, inviteKey: string, route: ResponseRoute): void {
    const call = this.calls.get(inviteKey);
    if (!call) {
      // A retired call was answered: its response context is over, nothing is left to CANCEL.
      const status = this.answered.has(inviteKey) ? 200 : 481;
      const reason = REASONS[status] ?? "";
      this.o.nonInviteServer.respond(
        tx,
        status,
        buildResponse(req, route.topVia, status, reason, [], randomHex(6)),
      );
      return;
    }
    this.o.nonInviteServer.respond(tx, 200, buildResponse(req, route.topVia, 200, "OK", [], call.toTag));
    call.canceled = true;
    if (call.finalSent) return;
    if (call.branches.length === 0) return; // still routing: onInvite answers 487
    for (const b of call.branches) this.cancelBranch(b);
  }

  /** Any other request (BYE, UPDATE, INFO, MESSAGE, ...): forwarded in its own transaction. */
  async onRequest(req: SipRequest, flow: Flow, tx: ServerTransaction, route: ResponseRoute): Promise<void> {
    let decision: Decision;
    try {
      decision = await this.decide(req, flow);
    } catch (err) {
      this.o.logger.warn({ err }, "request routing failed");
      decision = { kind: "reject", status: 500, reason: "Server Internal Error" };
    }
    if (decision.kind === "reject") {
      const extra = decision.extra ?? [];
      this.o.nonInviteServer.respond(
        tx,
        decision.status,
        buildResponse(req, route.topVia, decision.status, decision.reason, extra, randomHex(6)),
      );
      return;
    }
    // An out-of-dialog non-INVITE (MESSAGE, OPTIONS to an extension) goes to the most recently
    // refreshed device: non-INVITE requests cannot be CANCELed, so they are not forked.
    const target =
      decision.kind === "fork"
        ? decision.targets[decision.targets.length - 1]
        : { uri: req.uri, flow: decision.destination };
    if (!target) return;
    const branch = newBranch();
    const fwd = this.forwardCopy(
      req,
      flow,
      decision.kind === "fork" ? target.uri : undefined,
      target.flow,
      decision.kind === "in-dialog" ? decision.routes : undefined,
      decision.kind === "fork" && DIALOG_CREATING.has(req.method),
      branch,
    );
    const bytes = serialize(fwd);
    if (tooLargeFor(target.flow, bytes)) {
      this.o.nonInviteServer.respond(tx, 513, buildResponse(req, route.topVia, 513, "Message Too Large"));
      return;
    }
    const clientKey = `${branch}|${detach(req.method)}`;
    const client = new NonInviteClientTransaction({
      request: fwd,
      bytes,
      send: (data) => this.o.send(target.flow, data),
      reliable: target.flow.transport !== "UDP",
      ...(this.o.timers ? { timers: this.o.timers } : {}),
      onTerminated: () => this.clients.delete(clientKey),
      user: {
        onResponse: (res) => {
          if (res.status === 100) return;
          this.o.nonInviteServer.respond(tx, res.status, this.upstream(res));
        },
        onTimeout: () => {
          this.o.nonInviteServer.respond(tx, 408, buildResponse(req, route.topVia, 408, "Request Timeout"));
        },
      },
    });
    this.clients.set(clientKey, client);
    client.start();
  }

  // --------------------------------------------------------------- responses

  /** A response from downstream: to its client transaction, by our branch and the CSeq method. */
  onResponse(res: SipResponse): void {
    const branch = topBranch(res);
    const method = getCSeq(res.headers)?.method;
    if (!branch.startsWith(`${MAGIC_COOKIE}-sx`) || !method) return;
    const client = this.clients.get(`${branch}|${method}`);
    if (client) {
      client.receive(res);
      return;
    }
    // A 2xx retransmitted after its client transaction ended: still passed upstream (§16.7 step 5).
    if (method === "INVITE" && res.status >= 200 && res.status < 300) this.relayStateless(res);
  }

  /** A response passed upstream without a server transaction: to where its next Via says. */
  private relayStateless(res: SipResponse): void {
    const next = getVias(res.headers)?.[1];
    if (!next) return;
    const host = next.params.get("received") ?? next.host;
    const address = host.startsWith("[") ? host.slice(1, -1) : host;
    const rport = next.params.get("rport");
    const port = rport ? Number(rport) : (next.port ?? 5060);
    this.o.send({ transport: next.transport === "TCP" ? "TCP" : "UDP", address, port }, this.upstream(res));
  }

  // ------------------------------------------------------------------ routing

  /** The Route values at the top of the request that are ours (verified flow tokens). */
  private ourRoutes(req: SipRequest): Array<{ a: FlowAddress; b: FlowAddress }> {
    const out: Array<{ a: FlowAddress; b: FlowAddress }> = [];
    for (const value of req.headers.getAll("Route")) {
      const r = routeParams(value);
      const a = r?.params.get(FLOW_A);
      const b = r?.params.get(FLOW_B);
      const fa = a ? this.flows.decode(a) : undefined;
      const fb = b ? this.flows.decode(b) : undefined;
      if (!fa || !fb) break;
      out.push({ a: fa, b: fb });
    }
    return out;
  }

  private async decide(req: SipRequest, flow: Flow): Promise<Decision> {
    // §16.3 step 3: Max-Forwards.
    const mfText = req.headers.get("Max-Forwards");
    const mf = mfText === undefined ? 70 : parseMaxForwards(mfText);
    if (mf === undefined)
      return { kind: "reject", status: 400, reason: "Bad Request (Malformed Max-Forwards)" };
    if (mf === 0) return { kind: "reject", status: 483, reason: "Too Many Hops" };

    // §16.4: our own Route entries are removed; their flow tokens say where the dialog's ends are.
    const ours = this.ourRoutes(req);
    const allRoutes = req.headers.getAll("Route");
    if (ours.length > 0) {
      const { a, b } = ours[0] as { a: FlowAddress; b: FlowAddress };
      const from: FlowAddress = {
        transport: flow.transport,
        address: flow.remoteAddress,
        port: flow.remotePort,
      };
      // From the caller's side it goes to the callee, and the other way round.
      const towardCallee = sameFlow(from, a) || (!sameFlow(from, b) && from.address === a.address);
      return { kind: "in-dialog", destination: towardCallee ? b : a, routes: allRoutes.slice(ours.length) };
    }
    if (allRoutes.length > 0) {
      return { kind: "reject", status: 403, reason: "Forbidden (Route is not through this server)" };
    }

    const uri = req.requestUri;
    if (!uri) return { kind: "reject", status: 416, reason: "Unsupported URI Scheme" };
    const address = classifyAddress(uri.user, uri.host, this.o.registrarDomain, this.o.directDomain);
    let target: Awaited<ReturnType<CallTargetSource["byDirectHash"]>>;
    if (address.kind === "direct") {
      // A public address: no authentication; an old or deleted hash is not found at once.
      target = await this.o.targets.byDirectHash(address.hash);
    } else if (address.kind === "extension") {
      // Callers of an extension's own address are extensions of the same customer (407 first).
      const authText = req.headers.get("Proxy-Authorization");
      const parsed = authText === undefined ? undefined : parseAuthHeader(authText);
      if (authText !== undefined && !parsed) {
        return { kind: "reject", status: 400, reason: "Bad Request (Malformed Proxy-Authorization)" };
      }
      const params = parsed && parsed.scheme.toLowerCase() === "digest" ? parsed.params : undefined;
      const auth = await this.o.authenticator.authenticate(params, address.domain, req.method);
      if (!auth.ok) {
        const nonce = this.o.nonces.issue(address.domain);
        const challenge = formatChallenge("Digest", [
          ["realm", address.domain],
          ["nonce", nonce],
          ["qop", "auth"],
          ["algorithm", "MD5"],
        ]);
        return {
          kind: "reject",
          status: 407,
          reason: "Proxy Authentication Required",
          extra: [`Proxy-Authenticate: ${challenge}${auth.stale ? ", stale=true" : ""}`],
        };
      }
      target = await this.o.targets.byAddress(address.domain, address.user);
    } else {
      return { kind: "reject", status: 404, reason: "Not Found (not an address of this server)" };
    }
    if (!target) return { kind: "reject", status: 404, reason: "Not Found" };
    const bindings = this.o.location.lookup(target.extensionId).filter((b) => !this.isSelf(b));
    if (bindings.length === 0) return { kind: "reject", status: 480, reason: "Temporarily Unavailable" };
    return {
      kind: "fork",
      recordRoute: DIALOG_CREATING.has(req.method),
      targets: bindings.map((b) => ({
        uri: b.contact,
        flow: {
          transport: b.transport === "TCP" ? "TCP" : "UDP",
          address: b.receivedIp,
          port: b.receivedPort,
        },
      })),
    };
  }

  /** A binding that points back at this server would loop (§16.3 step 4). */
  private isSelf(b: Binding): boolean {
    return b.receivedPort === this.o.self.port && b.receivedIp === this.o.self.host;
  }

  /**
   * §16.6: the copy sent to one target. Request-URI set for a target of ours, Max-Forwards
   * decremented, our Record-Route (with both flows) for a dialog-creating request, our own
   * Route entries and our realm's Proxy-Authorization removed, the top Via stamped with
   * received/rport and our Via on top.
   */
  private forwardCopy(
    req: SipRequest,
    flow: Flow,
    requestUri: string | undefined,
    target: FlowAddress,
    remainingRoutes: string[] | undefined,
    recordRoute: boolean,
    branch = `${MAGIC_COOKIE}-sx${Buffer.from(topBranch(req)).toString("base64url").slice(-24)}`,
  ): SipRequest {
    const h = req.headers.clone();
    const mf = parseMaxForwards(h.get("Max-Forwards") ?? "70") ?? 70;
    h.set("Max-Forwards", String(mf - 1));
    if (remainingRoutes !== undefined) {
      h.remove("Route");
      for (const r of remainingRoutes) h.append("Route", r);
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
    const ourVia = `SIP/2.0/${target.transport} ${this.selfVia.host}:${this.selfVia.port};branch=${branch};rport`;
    for (const v of [ourVia, ...stamped].reverse()) h.prepend("Via", v);
    if (recordRoute) {
      const from: FlowAddress = {
        transport: flow.transport,
        address: flow.remoteAddress,
        port: flow.remotePort,
      };
      const tokens = `;${FLOW_A}=${this.flows.encode(from)};${FLOW_B}=${this.flows.encode(target)}`;
      const rr = (t: string) => `<sip:${this.selfVia.host}:${this.selfVia.port};transport=${t};lr${tokens}>`;
      // Transports differ: one entry faces each side (double Record-Route), so each end reaches
      // us on its own transport; both carry the flows.
      if (from.transport !== target.transport) h.prepend("Record-Route", rr(from.transport.toLowerCase()));
      h.prepend("Record-Route", rr(target.transport.toLowerCase()));
    }
    return { ...req, uri: requestUri ?? req.uri, headers: h };
  }

  private forkBranch(call: Call, req: SipRequest, flow: Flow, t: Target, decision: Decision): void {
    const branchId = newBranch();
    const fwd = this.forwardCopy(
      req,
      flow,
      decision.kind === "fork" ? t.uri : undefined,
      t.flow,
      decision.kind === "in-dialog" ? decision.routes : undefined,
      decision.kind === "fork" && decision.recordRoute,
      branchId,
    );
    const branch: Branch = {
      call,
      tx: undefined,
      request: fwd,
      target: t.flow,
      provisional: false,
      status: undefined,
      answered: false,
      response: undefined,
      cancelWhenProvisional: false,
      canceled: false,
    };
    call.branches.push(branch);
    const bytes = serialize(fwd);
    if (tooLargeFor(t.flow, bytes)) {
      // The branch fails at once instead of retransmitting what can never be sent (onInvite
      // then finishes the call if no other branch is left).
      this.endBranch(branch, 513);
      return;
    }
    const tx = new InviteClientTransaction({
      request: fwd,
      bytes,
      send: (data) => this.o.send(t.flow, data),
      reliable: t.flow.transport !== "UDP",
      ...(this.o.timers ? { timers: this.o.timers } : {}),
      onTerminated: () => this.clients.delete(`${branchId}|INVITE`),
      user: {
        onResponse: (res) => this.onBranchResponse(call, branch, res),
        onTimeout: () => {
          this.endBranch(branch, 408);
          this.maybeFinish(call);
          this.maybeRetire(call);
        },
      },
    });
    branch.tx = tx;
    this.clients.set(`${branchId}|INVITE`, tx);
    tx.start();
  }

  /** A branch's outcome is known and its transaction is over: nothing is left to CANCEL. */
  private endBranch(b: Branch, status: number): void {
    b.status = status;
    b.request = undefined;
  }

  private onBranchResponse(call: Call, branch: Branch, res: SipResponse): void {
    if (res.status < 200) {
      branch.provisional = true;
      if (branch.cancelWhenProvisional) this.sendCancel(branch);
      // 100 is hop by hop (§16.7 step 5); other provisionals go upstream until a final went.
      if (res.status > 100 && !call.finalSent) call.server.respond(res.status, this.upstream(res));
      return;
    }
    branch.answered = true;
    this.endBranch(branch, res.status);
    if (res.status < 300) {
      // Every 2xx goes upstream, even after another branch's (§16.7 step 5): the caller ACKs
      // and hangs up the extra dialogs itself.
      if (!call.finalSent || call.finalSent < 300) {
        this.sent(call, res.status);
        call.server.respond(res.status, this.upstream(res));
      } else {
        // The caller already has our 480 (the ring timeout gave the device up before it said
        // anything) or another 3xx-6xx: the 2xx still goes upstream (§16.7 step 5 forwards
        // every 2xx), so the caller can ACK and hang up the dialog the device thinks it has.
        this.relayStateless(res);
      }
      this.stopRinging(call);
      for (const b of call.branches) if (b !== branch) this.cancelBranch(b);
      this.maybeRetire(call);
      return;
    }
    if (!call.finalSent) branch.response = res;
    if (res.status >= 600) for (const b of call.branches) if (b !== branch) this.cancelBranch(b);
    this.maybeFinish(call);
    this.maybeRetire(call);
  }

  /**
   * A call answered with a 2xx whose branches are all over keeps only its key (in `answered`)
   * for the rest of Timer L: that is all RFC 6026's Accepted states still do here. A retransmitted
   * INVITE is absorbed by the key, and a 2xx retransmitted by a device goes upstream statelessly
   * (onResponse), as its Accepted client transaction would have passed it. Branches that ended
   * with a 300-699 keep their Completed client transaction (Timer D: it ACKs retransmissions).
   */
  private maybeRetire(call: Call): void {
    if (call.finalSent < 200 || call.finalSent >= 300) return;
    if (call.branches.some((b) => b.status === undefined)) return;
    for (const b of call.branches) if (b.tx?.state === "accepted") b.tx.cancelTimersAndTerminate();
    call.server.cancelTimersAndTerminate(); // its onTerminated forgets the call
    this.answered.add(call.key, true);
  }

  /** When every branch has a final and nothing was sent yet: the best one (§16.7 step 6). */
  private maybeFinish(call: Call): void {
    if (call.finalSent) return;
    // A 6xx does not wait for branches that were CANCELed.
    const sixxx = call.branches.some((b) => b.status !== undefined && b.status >= 600);
    if (!sixxx && call.branches.some((b) => b.status === undefined)) return;
    this.stopRinging(call);
    let best: Branch | undefined;
    for (const b of call.branches) {
      if (b.status === undefined) continue;
      if (best === undefined || rank(b.status) < rank(best.status as number)) best = b;
    }
    // Rung out (ring timeout): 480 (no answer), unless a device answered something of its own that
    // ranks better, such as 486 Busy Here; the 487s of our CANCELs and 408s are no answer.
    const bestStatus = best?.status;
    if (call.noAnswer && !call.canceled && (bestStatus === undefined || GAVE_UP.has(bestStatus))) {
      this.reply(call, 480, "Temporarily Unavailable (no answer)");
      return;
    }
    const response = best?.response;
    if (bestStatus === undefined) {
      this.reply(call, 480, "Temporarily Unavailable");
    } else if (!response) {
      // our own outcome of the branch: 408 (no answer), 487 (CANCELed, no final), 513
      this.reply(call, bestStatus, REASONS[bestStatus] ?? "");
    } else if (bestStatus === 503) {
      // §16.7 step 6: a 503 is not passed on as such (it would stop the caller's other routes).
      this.reply(call, 500, "Server Internal Error");
    } else {
      this.sent(call, bestStatus);
      call.server.respond(bestStatus, this.upstream(response));
    }
  }

  private reply(call: Call, status: number, reason: string, extra: string[] = []): void {
    const { request, topVia } = call;
    if (call.finalSent || !request || topVia === undefined) return;
    this.sent(call, status);
    this.stopRinging(call);
    call.server.respond(status, buildResponse(request, topVia, status, reason, extra, call.toTag));
  }

  /** The call's final response goes upstream: what only choosing and building it needed is let go. */
  private sent(call: Call, status: number): void {
    call.finalSent = status;
    call.request = undefined;
    call.topVia = undefined;
    for (const b of call.branches) b.response = undefined;
  }

  /**
   * Nobody answered in time (our Timer C, §16.8): a ringing branch is CANCELed; one without any
   * provisional response yet counts as 408 at once (it is CANCELed should one still come, §9.1).
   * The caller hears 480 (no answer).
   */
  private giveUp(call: Call): void {
    if (call.finalSent) return;
    call.noAnswer = true;
    for (const b of call.branches) {
      if (b.status !== undefined || b.canceled) continue;
      if (b.provisional) {
        this.sendCancel(b);
      } else {
        b.cancelWhenProvisional = true;
        b.status = 408;
      }
    }
    this.maybeFinish(call);
  }

  private stopRinging(call: Call): void {
    if (call.ringTimer) clearTimeout(call.ringTimer);
    call.ringTimer = undefined;
  }

  /** §16.10 / §9.1: CANCEL a pending branch; before its first provisional, wait for one. */
  private cancelBranch(b: Branch): void {
    if (b.status !== undefined || b.canceled) return;
    if (b.provisional) this.sendCancel(b);
    else b.cancelWhenProvisional = true;
  }

  private sendCancel(b: Branch): void {
    // A branch we gave up on ourselves (giveUp, status 408) is still CANCELed when it rings; one
    // the device answered has nothing left to CANCEL.
    const inv = b.request;
    const tx = b.tx;
    if (b.canceled || b.answered || !inv || !tx) return;
    b.canceled = true;
    b.request = undefined;
    const h = inv.headers.clone();
    // §9.1: same Request-URI, Call-ID, To, From, CSeq number and top Via; method CANCEL.
    const vias = h.getAll("Via");
    h.remove("Via");
    if (vias[0]) h.prepend("Via", vias[0]);
    const cseq = getCSeq(inv.headers);
    h.set("CSeq", `${cseq?.seq ?? 1} CANCEL`);
    h.set("Max-Forwards", "70");
    for (const name of ["Contact", "Record-Route", "Content-Type", "Supported", "Allow", "Require"])
      h.remove(name);
    const cancel: SipRequest = { ...inv, method: "CANCEL", headers: h, body: Buffer.alloc(0) };
    const branch = topBranch(inv);
    const client = new NonInviteClientTransaction({
      request: cancel,
      send: (data) => this.o.send(b.target, data),
      reliable: b.target.transport !== "UDP",
      ...(this.o.timers ? { timers: this.o.timers } : {}),
      onTerminated: () => this.clients.delete(`${branch}|CANCEL`),
      user: { onResponse: () => {}, onTimeout: () => {} },
    });
    this.clients.set(`${branch}|CANCEL`, client);
    client.start();
    // §9.1: a CANCELed INVITE that gets no final within 64*T1 is taken as ended (487), so a
    // device that accepts the CANCEL and never answers the INVITE cannot hold the call open.
    const guard = setTimeout(() => {
      if (b.answered) return;
      // (a branch given up on at the ring timeout keeps its 408: the caller heard "no answer")
      if (b.status === undefined) b.status = 487;
      tx.cancelTimersAndTerminate();
      this.maybeFinish(b.call);
      this.maybeRetire(b.call);
    }, CANCEL_GUARD_MS);
    guard.unref();
  }

  /** A response as it goes upstream: without our Via (edited in its bytes when it can be). */
  private upstream(res: SipResponse): Buffer {
    const edited = res.raw && removeTopVia(res.raw);
    if (edited) return edited;
    const h = res.headers.clone();
    const vias = h.getAll("Via");
    h.remove("Via");
    for (const v of vias.slice(1).reverse()) h.prepend("Via", v);
    return serialize({ ...res, headers: h });
  }
}
