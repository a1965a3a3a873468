// The transaction-stateful proxy (RFC 3261 §16) for the two kinds of address sipext answers
// for: an extension's own address (callers authenticate as an extension of the same customer,
// 407) and its public direct URI (open to anyone). This file is the glue between the steps:
//   router.ts           §16.3-16.5  where a request goes, or why not
//   forward.ts          §16.6, §9.1 the copies sent (pure edits)
//   invite-call.ts      §16.6-16.10 one forwarded INVITE: its transactions and branches
//   response-context.ts §16.7       which response goes upstream, when
// and the transactions (§17) that carry them. The proxy Record-Routes with signed flow tokens of
// both ends, so in-dialog requests (ACK, BYE, re-INVITE, UPDATE, INFO) come back through it and
// find each device on the flow it really uses, behind NAT too, without any dialog state here.
import { detach } from "../message/detach.js";
import { getCSeq } from "../message/fields.js";
import { buildResponse, REASONS, type ResponseRoute } from "../message/response.js";
import { serialize } from "../message/serializer.js";
import { newBranch, newTag, OUR_BRANCH_PREFIX, tagFor } from "../message/tags.js";
import type { SipRequest, SipResponse } from "../message/types.js";
import { InviteServerTransaction, TIMER_L } from "../transaction/invite-server.js";
import { ClientTransactions, ExpiringMap, topBranch } from "../transaction/matching.js";
import { NonInviteClientTransaction } from "../transaction/non-invite-client.js";
import type { NonInviteServerTransactions, ServerTransaction } from "../transaction/non-invite-server.js";
import type { Timers } from "../transaction/timers.js";
import type { Flow, FlowAddress } from "../transport/flow.js";
import type { CallObserver } from "./call-events.js";
import { FlowTokens } from "./flow-token.js";
import { forwardCopy, nextHop, statelessBranch, tooLargeFor, upstream } from "./forward.js";
import { type CallEnvironment, InviteCall } from "./invite-call.js";
import { type Decision, type Router, type RouterOptions, router, type Target } from "./router.js";

export interface ProxyLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ProxyOptions extends Omit<RouterOptions, "flows"> {
  flowKey: Buffer;
  /** sends bytes toward a flow (UDP datagram, or the TCP connection to that address) */
  send(target: FlowAddress, data: Buffer): void;
  /** the stack's non-INVITE server transactions (proxied BYE, CANCEL, ...) */
  transactions: NonInviteServerTransactions;
  /** an unanswered call is given up after this long: branches CANCELed, caller gets 480 */
  ringTimeoutMs?: number;
  timers?: Timers;
  logger: ProxyLogger;
  /** told of calls to extensions and of BYEs (call records, CONTRACT §13) */
  calls?: CallObserver;
  /** counts the requests waiting to be routed (the overload measure); returns "done" */
  track?: () => () => void;
}

/** An in-dialog request goes where its route's flow token says, its Request-URI unchanged. */
const inDialog = (req: SipRequest, destination: FlowAddress): Target => ({
  uri: req.uri,
  flow: destination,
  q: 1,
  updatedAt: 0,
});

/** Of the targets with the highest q (the first ones), the most recently refreshed. */
function freshestOfBest(targets: Target[]): Target | undefined {
  let best = targets[0];
  for (const t of targets) if (best && t.q === best.q && t.updatedAt > best.updatedAt) best = t;
  return best;
}

/** How the stack sees an INVITE server transaction: retransmissions and ACKs matched to it. */
export type InviteMatch = Pick<InviteServerTransaction, "receiveRequestRetransmission" | "receiveAck">;

/** An INVITE still being routed: its retransmissions are absorbed, there is nothing to ACK. */
const ROUTING: InviteMatch = {
  receiveRequestRetransmission() {},
  receiveAck: () => false,
};

/**
 * A retired call's INVITE server transaction, in RFC 6026's Accepted state: retransmissions of
 * the INVITE are absorbed, and the ACK of the 2xx is not the transaction's (the proxy routes it).
 */
const ACCEPTED: InviteMatch = {
  receiveRequestRetransmission() {},
  receiveAck: () => false,
};

export class SipProxy {
  private readonly calls = new Map<string, InviteCall>();
  /** INVITEs being routed (no transaction yet), and whether the caller CANCELed meanwhile */
  private readonly routing = new Map<string, { canceled: boolean }>();
  /** the keys of retired calls, for the rest of their Timer L */
  private readonly answered = new ExpiringMap<true>(TIMER_L);
  private readonly clients = new ClientTransactions();
  private readonly flows: FlowTokens;
  private readonly router: Router;
  private readonly timers: { timers?: Timers };
  private readonly env: CallEnvironment;

  constructor(private readonly o: ProxyOptions) {
    this.flows = new FlowTokens(o.flowKey);
    this.router = router({ ...o, flows: this.flows });
    this.timers = o.timers ? { timers: o.timers } : {};
    this.env = {
      clients: this.clients,
      send: o.send,
      timers: this.timers,
      ringTimeoutMs: o.ringTimeoutMs ?? 180_000,
      copyFor: (req, flow, t, decision, branch) => this.copyFor(req, flow, t, decision, branch),
      relayStateless: (res) => this.relayStateless(res),
      forget: (key) => this.calls.delete(key),
      retire: (key) => this.answered.add(key, true),
      observer: o.calls,
    };
  }

  /** INVITEs being routed or forwarded (not the retired ones, which are only a key). */
  get callsInProgress(): number {
    return this.calls.size + this.routing.size;
  }

  /** Is this request for us to route (an extension address, a direct URI or one of our routes)? */
  handles(req: SipRequest): boolean {
    return this.router.handles(req);
  }

  // ---------------------------------------------------------------- requests

  /** A new INVITE (retransmissions are matched by the caller through inviteTransaction()). */
  async onInvite(req: SipRequest, flow: Flow, route: ResponseRoute, inviteKey: string): Promise<void> {
    // The key is built of pieces of the INVITE's text: kept 32 s, it must not hold the message.
    const key = detach(inviteKey);
    // While it is routed, the INVITE has no transaction yet: retransmissions are absorbed and a
    // CANCEL is remembered by this small entry alone.
    const routing = { canceled: false };
    this.routing.set(key, routing);
    const decision = await this.decide(req, flow, "INVITE routing failed", key);
    this.routing.delete(key);
    if (decision.kind === "reject" && !routing.canceled) {
      // A rejection before anything was forwarded is stateless (CONTRACT §9): one response, no
      // 100, no retransmissions, nothing kept. A retransmitted INVITE is routed and answered again.
      const { status, reason, extra } = decision;
      flow.send(
        buildResponse(req, route.topVia, status, reason, extra, tagFor(key)),
        route.address,
        route.port,
      );
      return;
    }
    const call = new InviteCall(key, req, flow, route, this.env);
    this.calls.set(key, call);
    if (routing.canceled) return call.context.reject(487, "Request Terminated");
    if (decision.kind === "reject")
      return call.context.reject(decision.status, decision.reason, decision.extra);
    call.start(decision, decision.kind === "fork" ? decision.targets : [inDialog(req, decision.destination)]);
  }

  /** The INVITE server transaction for a retransmitted INVITE or its ACK, if any. */
  inviteTransaction(key: string): InviteMatch | undefined {
    const call = this.calls.get(key);
    if (call) return call.server;
    if (this.routing.has(key)) return ROUTING;
    return this.answered.has(key) ? ACCEPTED : undefined;
  }

  /** An ACK no server transaction took: the ACK of a 2xx, routed end to end (§16.11 stateless). */
  async onAck(req: SipRequest, flow: Flow): Promise<void> {
    // Awaited exactly as onRequest awaits it (no extra .catch() hop): an ACK and the BYE read
    // right after it from one TCP segment must leave in the order they came.
    // The ACK of a 2xx carries our Record-Route as its Route; one without a Route is the ACK of
    // a stateless rejection, or stray: dropped without routing (no authentication, no answer).
    if (!req.headers.has("Route")) return;
    let decision: Decision | undefined;
    try {
      decision = await this.router.decide(req, flow);
    } catch {
      return;
    }
    if (decision.kind !== "in-dialog") return; // an ACK is never answered
    const fwd = forwardCopy(req, flow, {
      self: this.o.self,
      requestUri: undefined,
      target: decision.destination,
      routes: decision.routes,
      recordRoute: undefined,
      branch: statelessBranch(req),
    });
    this.o.send(decision.destination, serialize(fwd));
  }

  /** CANCEL of a pending INVITE (§16.10): 200 at once, then the branches are CANCELed. */
  onCancel(req: SipRequest, tx: ServerTransaction, inviteKey: string, route: ResponseRoute): void {
    const answer = (status: number, toTag: string) =>
      this.o.transactions.respond(
        tx,
        status,
        buildResponse(req, route.topVia, status, REASONS[status] ?? "", [], toTag),
      );
    const call = this.calls.get(inviteKey);
    if (call) return call.cancel((toTag) => answer(200, toTag));
    const routing = this.routing.get(inviteKey);
    if (routing) routing.canceled = true; // answered 487 once routed
    // A retired call was answered: its response context is over, nothing is left to CANCEL.
    answer(routing || this.answered.has(inviteKey) ? 200 : 481, newTag());
  }

  /** Any other request (BYE, UPDATE, INFO, MESSAGE, ...): forwarded in its own transaction. */
  async onRequest(req: SipRequest, flow: Flow, tx: ServerTransaction, route: ResponseRoute): Promise<void> {
    // A 408 or 513 of ours stands for the device that was not reached: it carries no tag of ours.
    const answer = (status: number, reason: string) =>
      this.o.transactions.respond(tx, status, buildResponse(req, route.topVia, status, reason));
    const decision = await this.decide(req, flow, "request routing failed", tx.key);
    // A BYE through us ends its call, whichever side sent it (the proxy keeps no dialog).
    if (req.method === "BYE" && decision.kind === "in-dialog")
      this.o.calls?.hungUp(req.headers.get("Call-ID") ?? "");
    if (decision.kind === "reject") {
      // Rejected before anything was forwarded: stateless (CONTRACT §9).
      const { status, reason, extra = [] } = decision;
      this.o.transactions.respondStateless(
        tx,
        buildResponse(req, route.topVia, status, reason, extra, newTag()),
      );
      return;
    }
    // An out-of-dialog non-INVITE (MESSAGE, OPTIONS to an extension) goes to the most recently
    // refreshed device of the highest q: non-INVITE requests cannot be CANCELed, so they are not
    // forked.
    const target =
      decision.kind === "fork" ? freshestOfBest(decision.targets) : inDialog(req, decision.destination);
    if (!target) return;
    const branch = newBranch();
    const fwd = this.copyFor(req, flow, target, decision, branch);
    const bytes = serialize(fwd);
    if (tooLargeFor(target.flow, bytes)) return answer(513, "Message Too Large");
    const method = detach(req.method);
    const client = new NonInviteClientTransaction({
      request: fwd,
      bytes,
      ...this.clients.hooks(branch, method, this.o, target.flow),
      reliable: target.flow.transport !== "UDP",
      ...this.timers,
      user: {
        onResponse: (res) => {
          if (res.status !== 100) this.o.transactions.respond(tx, res.status, upstream(res));
        },
        onTimeout: () => answer(408, "Request Timeout"),
      },
    });
    this.clients.add(branch, method, client);
    client.start();
  }

  // --------------------------------------------------------------- responses

  /** A response from downstream: to its client transaction, by our branch and the CSeq method. */
  onResponse(res: SipResponse): void {
    if (!topBranch(res).startsWith(OUR_BRANCH_PREFIX)) return;
    const client = this.clients.match(res);
    if (client) {
      client.receive(res);
      return;
    }
    // A 2xx retransmitted after its client transaction ended: still passed upstream (§16.7 step 5).
    if (res.status >= 200 && res.status < 300 && getCSeq(res.headers)?.method === "INVITE")
      this.relayStateless(res);
  }

  // ---------------------------------------------------------------- internals

  private async decide(req: SipRequest, flow: Flow, failure: string, key: string): Promise<Decision> {
    const done = this.o.track?.();
    try {
      return await this.router.decide(req, flow, key);
    } catch (err) {
      this.o.logger.warn({ err }, failure);
      return { kind: "reject", status: 500, reason: "Server Internal Error" };
    } finally {
      done?.();
    }
  }

  /** The copy of `req` for one target of a decision (§16.6). */
  private copyFor(req: SipRequest, flow: Flow, t: Target, decision: Decision, branch: string): SipRequest {
    const fork = decision.kind === "fork";
    // The first hop of a dialog-creating request Record-Routes; a relayed one too (the node
    // holding the phone's connection stays in the dialog's path).
    const rr = (fork || decision.kind === "relay") && this.router.recordsRoute(req.method);
    const caller: FlowAddress = {
      transport: flow.transport,
      address: flow.remoteAddress,
      port: flow.remotePort,
    };
    return forwardCopy(req, flow, {
      self: this.o.self,
      requestUri: fork ? t.uri : undefined,
      target: t.flow,
      // §16.4/§16.6: in a dialog the Route set left after ours; to a binding, its Path or none
      // (the outbound proxy's Route naming us is not passed on).
      routes:
        decision.kind === "fork" || decision.kind === "reject" ? [...(t.routes ?? [])] : decision.routes,
      recordRoute: rr ? { caller: this.flows.encode(caller), callee: this.flows.encode(t.flow) } : undefined,
      branch,
    });
  }

  /** A response passed upstream without a server transaction: to where its next Via says. */
  private relayStateless(res: SipResponse): void {
    const hop = nextHop(res);
    if (hop) this.o.send(hop, upstream(res));
  }
}
