// One proxied INVITE once it is to be forwarded (RFC 3261 §16.6-16.10): its INVITE server
// transaction, its response context, and its branches — each an INVITE client transaction,
// CANCELed in a transaction of its own when the context says so. Targets ring by descending q,
// one group at a time (§16.6).
import { getFrom, getTo } from "../message/fields.js";
import { buildResponse, type ResponseRoute } from "../message/response.js";
import { serialize } from "../message/serializer.js";
import { newBranch, newTag } from "../message/tags.js";
import type { SipRequest, SipResponse } from "../message/types.js";
import { DONE } from "../transaction/client-transaction.js";
import { InviteClientTransaction } from "../transaction/invite-client.js";
import { InviteServerTransaction } from "../transaction/invite-server.js";
import { type ClientTransactions, topBranch } from "../transaction/matching.js";
import { NonInviteClientTransaction } from "../transaction/non-invite-client.js";
import { T1, type Timers } from "../transaction/timers.js";
import type { Flow, FlowAddress } from "../transport/flow.js";
import { type CallObserver, resultOf } from "./call-events.js";
import { cancelFor, tooLargeFor, upstream } from "./forward.js";
import { type Branch, ResponseContext } from "./response-context.js";
import type { Decision, Target } from "./router.js";

/** 64*T1: how long a CANCELed branch may go without a final response (§9.1). */
const CANCEL_GUARD_MS = 64 * T1;

/** What a call needs of the proxy it belongs to. */
export interface CallEnvironment {
  clients: ClientTransactions;
  send(target: FlowAddress, data: Buffer): void;
  timers: { timers?: Timers };
  ringTimeoutMs: number;
  /** the copy of the INVITE sent to one target (§16.6) */
  copyFor(req: SipRequest, flow: Flow, t: Target, decision: Decision, branch: string): SipRequest;
  /** a 2xx passed upstream outside the server transaction */
  relayStateless(res: SipResponse): void;
  /** the server transaction ended: the call is over */
  forget(key: string): void;
  /** answered and every branch over: only the key is kept (RFC 6026 Accepted) */
  retire(key: string): void;
  /** told of the calls to extensions (call records, CONTRACT §13) */
  observer?: CallObserver | undefined;
}

/** What the call keeps of one branch. */
interface Leg {
  tx: InviteClientTransaction | undefined;
  /** the INVITE as sent, while the branch may still need CANCELing (§9.1 builds from it) */
  request: SipRequest | undefined;
  target: FlowAddress;
}

/** Targets in runs of equal q (they come sorted by descending q). */
function groupByQ(targets: Target[]): Target[][] {
  const groups: Target[][] = [];
  for (const t of targets) {
    const last = groups[groups.length - 1];
    if (last && last[0]?.q === t.q) last.push(t);
    else groups.push([t]);
  }
  return groups;
}

// A call outlives its answer by 32 s (the transactions' Timers L and M, RFC 6026), thousands of
// calls at a busy proxy's call rate: what only the routing needs (the messages) is dropped as
// soon as it is no longer needed, and a call answered with a 2xx whose branches are all over is
// retired to its key alone.
export class InviteCall {
  readonly server: InviteServerTransaction;
  readonly context: ResponseContext<Leg>;
  /** the INVITE and where its responses go, until the final response was sent */
  private request: SipRequest | undefined;
  private topVia: string | undefined;
  /** the groups of targets that have not rung yet, and how they go */
  private groups: Target[][] = [];
  private decision: Decision | undefined;
  private ringTimer: NodeJS.Timeout | undefined;
  private readonly toTag = newTag();
  /** a call of an extension the observer was told started, until its first final */
  private observed = false;

  constructor(
    readonly key: string,
    req: SipRequest,
    private readonly flow: Flow,
    route: ResponseRoute,
    private readonly env: CallEnvironment,
  ) {
    this.request = req;
    this.topVia = route.topVia;
    this.server = new InviteServerTransaction({
      send: (data) => flow.send(data, route.address, route.port),
      reliable: flow.transport !== "UDP",
      ...env.timers,
      onTerminated: () => env.forget(key),
    });
    this.context = new ResponseContext<Leg>({
      forward: (res) => {
        this.finalGone(res.status);
        this.server.respond(res.status, upstream(res));
      },
      relayLate: (res) => env.relayStateless(res),
      reply: (status, reason, extra) => {
        const { request, topVia } = this;
        this.finalGone(status);
        if (request && topVia !== undefined)
          this.server.respond(status, buildResponse(request, topVia, status, reason, extra, this.toTag));
      },
      sendCancel: (b) => this.sendCancel(b),
      stopRinging: () => {
        clearTimeout(this.ringTimer);
        this.ringTimer = undefined;
      },
      retire: () => {
        for (const b of this.context.branches)
          if (b.leg.tx?.state === "accepted") b.leg.tx.cancelTimersAndTerminate();
        this.server.cancelTimersAndTerminate(); // its onTerminated forgets the call
        env.retire(key);
      },
      nextGroup: () => this.groups.length > 0 && this.forkGroup(),
    });
    // §16.2: a proxy answers 100 Trying to an INVITE it will take a while on (the branches).
    this.server.respond(100, buildResponse(req, route.topVia, 100, "Trying"));
  }

  /** The INVITE goes to its targets: the highest q at once, the ring timer for a new call. */
  start(decision: Decision, targets: Target[]): void {
    this.decision = decision;
    const { request } = this;
    if (decision.kind === "fork" && request && this.env.observer) {
      this.observed = true;
      this.env.observer.started({
        key: this.key,
        callId: request.headers.get("Call-ID") ?? "",
        fromUri: getFrom(request.headers)?.uri ?? "",
        toUri: getTo(request.headers)?.uri ?? "",
        extensionId: decision.callee.extensionId,
        customerId: decision.callee.customerId,
        callerExtensionId: decision.caller,
        direct: decision.direct,
        source: `${this.flow.remoteAddress}:${this.flow.remotePort}`,
      });
    }
    this.groups = groupByQ(targets);
    this.forkGroup();
    if (decision.kind === "fork" && this.context.state === "proceeding") {
      this.ringTimer = setTimeout(() => this.context.giveUp(), this.env.ringTimeoutMs);
      this.ringTimer.unref();
    }
  }

  /** The caller's CANCEL (§16.10): 200 with our To tag, then the branches. */
  cancel(answer: (toTag: string) => void): void {
    answer(this.toTag);
    this.context.cancel();
  }

  /** Forks the next group of targets (one q), every branch at once. */
  private forkGroup(): true {
    const group = this.groups.shift() ?? [];
    const { request, decision } = this;
    this.context.moreBranches();
    if (request && decision) for (const t of group) this.forkBranch(request, t, decision);
    // Every branch may have failed at once (too large to send).
    this.context.forked();
    return true;
  }

  /** The call's final response goes upstream: what only choosing and building it needed is let go. */
  private finalGone(status: number): void {
    if (status < 200) return;
    this.request = undefined;
    this.topVia = undefined;
    if (!this.observed) return;
    // Told once: the first final (a later 2xx after our 480 is the caller's to sort out).
    this.observed = false;
    if (status < 300) this.env.observer?.answered(this.key);
    else this.env.observer?.failed(this.key, status, resultOf(status, this.context.endingReason));
  }

  private forkBranch(req: SipRequest, t: Target, decision: Decision): void {
    const { env } = this;
    const branchId = newBranch();
    const fwd = env.copyFor(req, this.flow, t, decision, branchId);
    const leg: Leg = { tx: undefined, request: fwd, target: t.flow };
    const branch = this.context.addBranch(leg);
    const bytes = serialize(fwd);
    if (tooLargeFor(t.flow, bytes)) {
      // The branch fails at once instead of retransmitting what can never be sent.
      leg.request = undefined;
      this.context.ended(branch, 513);
      return;
    }
    const tx = new InviteClientTransaction({
      request: fwd,
      bytes,
      ...env.clients.hooks(branchId, "INVITE", env, t.flow),
      reliable: t.flow.transport !== "UDP",
      ...env.timers,
      user: {
        onResponse: (res) => {
          if (res.status < 200) return this.context.provisional(branch, res);
          // The outcome is known: nothing is left to CANCEL.
          leg.request = undefined;
          this.context.final(branch, res);
        },
        onTimeout: () => {
          leg.request = undefined;
          this.context.ended(branch, 408);
        },
      },
    });
    leg.tx = tx;
    env.clients.add(branchId, "INVITE", tx);
    tx.start();
  }

  /** §9.1: the CANCEL of a branch, in a transaction of its own, and its 64*T1 guard. */
  private sendCancel(b: Branch<Leg>): void {
    const { env } = this;
    const { request: invite, tx } = b.leg;
    if (!invite || !tx) return;
    b.leg.request = undefined;
    const branch = topBranch(invite);
    const client = new NonInviteClientTransaction({
      request: cancelFor(invite),
      ...env.clients.hooks(branch, "CANCEL", env, b.leg.target),
      reliable: b.leg.target.transport !== "UDP",
      ...env.timers,
      // §9.1: a CANCEL's responses change nothing; the INVITE's own final ends the branch.
      user: DONE,
    });
    env.clients.add(branch, "CANCEL", client);
    client.start();
    // §9.1: a CANCELed INVITE that gets no final within 64*T1 is taken as ended (487), so a
    // device that accepts the CANCEL and never answers the INVITE cannot hold the call open.
    const guard = setTimeout(() => {
      if (b.state === "answered") return;
      tx.cancelTimersAndTerminate();
      this.context.ended(b, 487);
    }, CANCEL_GUARD_MS);
    guard.unref();
  }
}
