// The response context of one proxied INVITE (RFC 3261 §16.7): its branches, what each has
// answered, and which response goes upstream when. Written as two named-state tables like the
// transactions' — the call's and each branch's — with every move guarded. No sockets and no
// transactions here: what to send is asked of the ResponseContextUser (the proxy), so the rules
// can be tested on their own.
import { REASONS } from "../message/response.js";
import type { SipResponse } from "../message/types.js";

/**
 * A branch (§16.6 step 8 to §16.7):
 *   trying        — the INVITE went out, nothing heard yet
 *   proceeding    — a provisional came
 *   cancel-on-1xx — to be CANCELed, but §9.1 forbids a CANCEL before a provisional: waits for one
 *   canceling     — our CANCEL went out; waiting for the final (a 487 or an answer regardless)
 *   answered      — the device sent a final (further 2xx retransmissions still pass)
 *   ended         — over without a final of the device's: 408 (Timer B), 487 (CANCEL guard), 513
 */
export type BranchState = "trying" | "proceeding" | "cancel-on-1xx" | "canceling" | "answered" | "ended";

const BRANCH_NEXT: Readonly<Record<BranchState, readonly BranchState[]>> = {
  trying: ["proceeding", "cancel-on-1xx", "answered", "ended"],
  proceeding: ["proceeding", "canceling", "answered", "ended"],
  "cancel-on-1xx": ["cancel-on-1xx", "canceling", "answered", "ended"],
  canceling: ["canceling", "answered", "ended"],
  answered: ["answered"],
  ended: [],
};

/**
 * The call:
 *   routing    — the targets are being looked up, the first branches added
 *   proceeding — branches are out, no final went upstream
 *   accepted   — a 2xx went upstream (every further 2xx follows it, §16.7 step 5)
 *   completed  — a 300-699 went upstream (a 2xx after it is still relayed, statelessly)
 *   retired    — answered and every branch over: only the key is left (the proxy keeps it)
 */
export type CallState = "routing" | "proceeding" | "accepted" | "completed" | "retired";

const CALL_NEXT: Readonly<Record<CallState, readonly CallState[]>> = {
  routing: ["proceeding", "completed"],
  proceeding: ["accepted", "completed"],
  accepted: ["retired"],
  completed: [],
  retired: [],
};

export interface Branch<L> {
  /** what the owner keeps of the branch (its transaction, its INVITE, its target) */
  readonly leg: L;
  state: BranchState;
  /** the outcome: the device's final status, or our own (408, 487, 513) */
  status: number | undefined;
  /** the device's 300-699, kept until the call's final is chosen (§16.7 step 6 may relay it) */
  response: SipResponse | undefined;
}

/** What the response context asks of its owner. */
export interface ResponseContextUser<L> {
  /** A device's response goes upstream in the INVITE server transaction. */
  forward(res: SipResponse): void;
  /** A 2xx after the caller got a 3xx-6xx: upstream without the server transaction. */
  relayLate(res: SipResponse): void;
  /** Our own final response goes upstream. */
  reply(status: number, reason: string, extra: string[]): void;
  /** CANCEL this branch now (§9.1): it has had a provisional and no final. */
  sendCancel(branch: Branch<L>): void;
  /** The ring timer is no longer needed. */
  stopRinging(): void;
  /** Answered with a 2xx and every branch over: all that is left is the key (RFC 6026). */
  retire(): void;
  /**
   * Every branch ended without a 2xx or 6xx: fork to the next lower q, if any (§16.6: "the
   * proxy MAY ... then proceed to the next lower q"). True when branches were started.
   */
  nextGroup(): boolean;
}

/** A branch's giving up (a timeout, no answer, our CANCEL) rather than a device's own answer. */
const GAVE_UP = new Set([408, 480, 487]);

/**
 * §16.7 step 6: 6xx first; then the lowest class; 408/480/487 (our own or a branch's giving up)
 * lose to a real answer of the same class such as 486 Busy Here.
 */
export function rank(status: number): number {
  if (status >= 600) return 0;
  // After every real answer of its class (x.00-x.99), before the next class.
  if (GAVE_UP.has(status)) return Math.floor(status / 100) + 0.999;
  return status / 100;
}

export class ResponseContext<L> {
  private current: CallState = "routing";
  /** why the call is ending without an answer: the caller's CANCEL wins over the ring timeout */
  private ending: "canceled" | "no-answer" | undefined;
  /** branches are being added: the outcome waits until every one of them is out */
  private adding = true;
  readonly branches: Branch<L>[] = [];

  constructor(private readonly user: ResponseContextUser<L>) {}

  get state(): CallState {
    return this.current;
  }

  /** Did the caller CANCEL? */
  get canceled(): boolean {
    return this.ending === "canceled";
  }

  /** Why the call is ending without an answer, if it is: the caller's CANCEL or our ring timeout. */
  get endingReason(): "canceled" | "no-answer" | undefined {
    return this.ending;
  }

  /** A final went upstream (the call is accepted, completed or retired). */
  get finalSent(): boolean {
    return this.current !== "routing" && this.current !== "proceeding";
  }

  /** Branches of a lower q are about to be added (the outcome waits for forked()). */
  moreBranches(): void {
    this.adding = true;
  }

  /** A new branch, its INVITE on its way (the outcome waits until forked()). */
  addBranch(leg: L): Branch<L> {
    const b: Branch<L> = { leg, state: "trying", status: undefined, response: undefined };
    this.branches.push(b);
    return b;
  }

  /** Routing gave up: our own final response (§16.3-16.5 rejections, 487 when CANCELed). */
  reject(status: number, reason: string, extra: string[] = []): void {
    this.reply(status, reason, extra);
  }

  /** Every branch is out (some may have failed at once): maybe the call is already over. */
  forked(): void {
    this.adding = false;
    this.move("proceeding");
    this.maybeFinish();
  }

  /** A provisional response of a branch (§16.7 steps 3-5). */
  provisional(b: Branch<L>, res: SipResponse): void {
    if (b.state === "trying") this.moveBranch(b, "proceeding");
    else if (b.state === "cancel-on-1xx") this.cancelNow(b);
    else if (b.state !== "proceeding" && b.state !== "canceling") return;
    // 100 is hop by hop (§16.7 step 5); other provisionals go upstream until a final went.
    if (res.status > 100 && !this.finalSent) this.user.forward(res);
  }

  /** A final response of a branch (§16.7 steps 5-6). */
  final(b: Branch<L>, res: SipResponse): void {
    if (!this.moveBranch(b, "answered")) return;
    b.status = res.status;
    if (res.status < 300) {
      // Every 2xx goes upstream, even after another branch's (§16.7 step 5): the caller ACKs and
      // hangs up the extra dialogs itself. After our own 3xx-6xx (the ring timeout gave the
      // device up before it said anything) it still goes, outside the transaction.
      if (this.current === "proceeding" || this.current === "accepted") {
        this.finalGoes("accepted");
        this.user.forward(res);
      } else this.user.relayLate(res);
      this.user.stopRinging();
      for (const other of this.branches) if (other !== b) this.cancelBranch(other);
      this.maybeRetire();
      return;
    }
    if (!this.finalSent) b.response = res;
    if (res.status >= 600) for (const other of this.branches) if (other !== b) this.cancelBranch(other);
    this.maybeFinish();
    this.maybeRetire();
  }

  /**
   * A branch ended without a final of the device's: 408 (its Timer B), 513 (too large to send),
   * or, from the CANCEL guard, 487 unless it already had an outcome (a branch given up at the
   * ring timeout keeps its 408: the caller heard "no answer").
   */
  ended(b: Branch<L>, status: number): void {
    if (!this.moveBranch(b, "ended")) return;
    b.status ??= status;
    this.maybeFinish();
    this.maybeRetire();
  }

  /** The caller's CANCEL (§16.10): every pending branch is CANCELed. */
  cancel(): void {
    this.ending = "canceled";
    if (this.finalSent) return;
    for (const b of this.branches) this.cancelBranch(b);
  }

  /**
   * Nobody answered in time (our Timer C, §16.8): a ringing branch is CANCELed; one without any
   * provisional response yet counts as 408 at once (it is CANCELed should one still come, §9.1).
   * The caller hears 480 (no answer).
   */
  giveUp(): void {
    if (this.finalSent) return;
    this.ending ??= "no-answer";
    for (const b of this.branches) {
      if (b.status !== undefined) continue;
      if (b.state === "proceeding") this.cancelNow(b);
      else if (b.state === "trying" || b.state === "cancel-on-1xx") {
        this.moveBranch(b, "cancel-on-1xx");
        b.status = 408;
      }
    }
    this.maybeFinish();
  }

  /** §16.10 / §9.1: CANCEL a pending branch; before its first provisional, wait for one. */
  private cancelBranch(b: Branch<L>): void {
    if (b.status !== undefined) return;
    if (b.state === "proceeding") this.cancelNow(b);
    else if (b.state === "trying") this.moveBranch(b, "cancel-on-1xx");
  }

  private cancelNow(b: Branch<L>): void {
    if (this.moveBranch(b, "canceling")) this.user.sendCancel(b);
  }

  /** When every branch has a final and nothing was sent yet: the best one (§16.7 step 6). */
  private maybeFinish(): void {
    if (this.current !== "proceeding" || this.adding) return;
    // A 6xx waits for the branches it CANCELed too: then it goes, not their 487s (it ranks first).
    if (this.branches.some((b) => b.status === undefined)) return;
    const sixxx = this.branches.some((b) => b.status !== undefined && b.status >= 600);
    // Serial forking by q: unless the caller gave up or a 6xx said "nowhere", the next group rings.
    if (!sixxx && this.ending === undefined && this.user.nextGroup()) return;
    this.user.stopRinging();
    let best: Branch<L> | undefined;
    for (const b of this.branches) {
      if (b.status === undefined) continue;
      if (best?.status === undefined || rank(b.status) < rank(best.status)) best = b;
    }
    // Rung out (ring timeout): 480 (no answer), unless a device answered something of its own that
    // ranks better, such as 486 Busy Here; the 487s of our CANCELs and 408s are no answer.
    const bestStatus = best?.status;
    const response = best?.response;
    if (this.ending === "no-answer" && (bestStatus === undefined || GAVE_UP.has(bestStatus))) {
      this.reply(480, "Temporarily Unavailable (no answer)");
    } else if (bestStatus === undefined) {
      this.reply(480, "Temporarily Unavailable");
    } else if (!response) {
      // our own outcome of the branch: 408 (no answer), 487 (CANCELed, no final), 513
      this.reply(bestStatus, REASONS[bestStatus] ?? "");
    } else if (bestStatus === 503) {
      // §16.7 step 6: a 503 is not passed on as such (it would stop the caller's other routes).
      this.reply(500, "Server Internal Error");
    } else {
      this.finalGoes("completed");
      this.user.forward(response);
    }
  }

  /**
   * A call answered with a 2xx whose branches are all over is retired: RFC 6026's Accepted
   * states have nothing left to do but absorb retransmissions, which its key alone can do.
   */
  private maybeRetire(): void {
    if (this.current !== "accepted") return;
    if (this.branches.some((b) => b.status === undefined)) return;
    this.move("retired");
    this.user.retire();
  }

  private reply(status: number, reason: string, extra: string[] = []): void {
    if (this.finalSent) return;
    this.finalGoes(status < 300 ? "accepted" : "completed");
    this.user.stopRinging();
    this.user.reply(status, reason, extra);
  }

  /** The call's final goes upstream: the responses kept for choosing it are let go. */
  private finalGoes(to: CallState): void {
    this.move(to);
    for (const b of this.branches) b.response = undefined;
  }

  private move(to: CallState): boolean {
    if (this.current === to) return true;
    if (!CALL_NEXT[this.current].includes(to)) return false;
    this.current = to;
    return true;
  }

  private moveBranch(b: Branch<L>, to: BranchState): boolean {
    if (!BRANCH_NEXT[b.state].includes(to)) return false;
    b.state = to;
    return true;
  }
}
