// The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6), for CANCEL, BYE, OPTIONS...
//   Trying     — request sent; Timer E retransmits it (unreliable transports), Timer F times out.
//   Proceeding — a provisional arrived: Timer E goes on at T2, Timer F still times out.
//   Completed  — a final arrived and was passed up: retransmissions of it are absorbed until Timer K.
//   Terminated — forgotten.
import type { SipResponse } from "../message/index.js";
import { ClientTransactionBase, type ClientTransactionOptions, DONE } from "./client-transaction.js";
import { T1, T2, T4, type TimerHandle } from "./timers.js";

export type NonInviteClientState = "trying" | "proceeding" | "completed" | "terminated";

/** Timer F: 64*T1 (§17.1.2.2). */
const TIMER_F = 64 * T1;

/** The moves of Figure 6; anything else is refused. */
const NEXT: Readonly<Record<NonInviteClientState, readonly NonInviteClientState[]>> = {
  trying: ["proceeding", "completed", "terminated"],
  proceeding: ["completed", "terminated"],
  completed: ["terminated"],
  terminated: [],
};

export class NonInviteClientTransaction extends ClientTransactionBase<NonInviteClientTransaction> {
  private current: NonInviteClientState = "trying";
  // (the bytes are dropped at the final, and the TU too: its callbacks may hold its request,
  // and Timer K keeps the transaction 5 s)
  private timerE: TimerHandle | undefined;
  private timerF: TimerHandle | undefined;
  private timerK: TimerHandle | undefined;

  constructor(opts: ClientTransactionOptions<NonInviteClientTransaction>) {
    const { request } = opts;
    // An INVITE has its own machine; an ACK has no transaction at all (§17).
    if (request.method === "INVITE" || request.method === "ACK")
      throw new TypeError(`not a non-INVITE transaction request: ${request.method}`);
    super(opts);
  }

  get state(): NonInviteClientState {
    return this.current;
  }

  /**
   * §17.1.2.2: "When entering this state, the client transaction SHOULD set timer F to fire in
   * 64*T1 seconds. The request MUST be passed to the transport layer for transmission. If an
   * unreliable transport is in use, the client transaction MUST set timer E to fire in T1 seconds."
   */
  start(): void {
    if (this.started) throw new Error("the non-INVITE client transaction was already started");
    this.started = true;
    if (this.current !== "trying" || !this.bytes) return;
    this.send(this.bytes);
    if (!this.reliable) this.armTimerE(T1);
    this.timerF = this.timers.set(TIMER_F, () => this.fireTimerF());
  }

  /** A response that matched this transaction (§17.1.3). */
  receive(res: SipResponse): void {
    switch (this.current) {
      case "trying":
      case "proceeding":
        if (res.status < 200) {
          // §17.1.2.2: "If a provisional response is received while in the "Trying" state, the
          // response MUST be passed to the TU, and then the client transaction SHOULD move to
          // the "Proceeding" state." Further provisionals are passed up in Proceeding (Figure 6).
          this.user.onResponse(res, this);
          if (this.current === "trying") this.transition("proceeding");
        } else {
          // §17.1.2.2: "If a final response (status codes 200-699) is received while in the
          // "Trying" state, the response MUST be passed to the TU, and the client transaction
          // MUST transition to the "Completed" state." (the same from "Proceeding").
          const user = this.user;
          this.transition("completed");
          user.onResponse(res, this);
        }
        return;
      case "completed":
        // §17.1.2.2: "The "Completed" state exists to buffer any additional response
        // retransmissions that may be received": absorbed, never passed up.
        return;
      case "terminated":
        return;
    }
  }

  /** For the owner: stop every timer and forget the transaction now (e.g. on a transport error). */
  cancelTimersAndTerminate(): void {
    this.transition("terminated");
  }

  /** The guarded move: refuses what Figure 6 does not draw, runs the new state's entry actions. */
  private transition(to: NonInviteClientState): boolean {
    if (!NEXT[this.current].includes(to)) return false;
    this.current = to;
    // Completed only absorbs retransmitted responses (Timer K): the request is not sent again.
    if (to === "completed" || to === "terminated") {
      this.bytes = undefined;
      this.user = DONE;
    }
    switch (to) {
      case "completed":
        this.clearRequestTimers();
        // §17.1.2.2: "Once the client transaction enters the "Completed" state, it MUST set
        // Timer K to fire in T4 seconds for unreliable transports, and zero seconds for
        // reliable transports."
        this.timerK = this.timers.set(this.reliable ? 0 : T4, () => this.transition("terminated"));
        break;
      case "terminated":
        // "Once the transaction is in the terminated state, it MUST be destroyed immediately."
        this.clearRequestTimers();
        this.timers.clear(this.timerK);
        this.timerK = undefined;
        this.onTerminated?.(this);
        break;
      case "trying":
      case "proceeding":
        // Timers E and F run on through Proceeding.
        break;
    }
    return true;
  }

  /**
   * §17.1.2.2: "If timer E fires while still in this state, the timer is reset, but this time
   * with a value of MIN(2*T1, T2). [...] If Timer E fires while in the "Proceeding" state, the
   * request MUST be passed to the transport layer for retransmission, and Timer E MUST be reset
   * with a value of T2 seconds."
   */
  private armTimerE(interval: number): void {
    this.timerE = this.timers.set(interval, () => {
      if ((this.current !== "trying" && this.current !== "proceeding") || !this.bytes) return;
      this.send(this.bytes);
      this.armTimerE(this.current === "proceeding" ? T2 : Math.min(2 * interval, T2));
    });
  }

  /**
   * §17.1.2.2: "If Timer F fires while the client transaction is still in the "Trying" state,
   * the client transaction SHOULD inform the TU about the timeout, and then it SHOULD enter the
   * "Terminated" state." and "If timer F fires while in the "Proceeding" state, the TU MUST be
   * informed of a timeout, and the client transaction MUST transition to the terminated state."
   */
  private fireTimerF(): void {
    this.timerF = undefined;
    if (this.current !== "trying" && this.current !== "proceeding") return;
    this.user.onTimeout(this);
    this.transition("terminated");
  }

  private clearRequestTimers(): void {
    this.timers.clear(this.timerE);
    this.timers.clear(this.timerF);
    this.timerE = this.timerF = undefined;
  }
}
