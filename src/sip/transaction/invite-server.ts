// The INVITE server transaction (RFC 3261 §17.2.1, Figure 7), with the Accepted state of
// RFC 6026 §7.1:
//   Proceeding — INVITE received: the TU's provisionals are sent, the latest one answers
//                retransmissions of the INVITE.
//   Accepted   — a 2xx was sent: INVITE retransmissions are absorbed silently, the TU may send
//                more 2xx (its own retransmissions, or other branches') until Timer L.
//   Completed  — a 300-699 was sent: Timer G retransmits it (unreliable transports) until the
//                ACK arrives, Timer H gives up on the ACK.
//   Confirmed  — the ACK arrived: further ACKs are absorbed until Timer I.
//   Terminated — forgotten.
// Matching (§17.2.3) is the owner's job, and so is the 100 (Trying) of §17.2.1: the owner holds
// the request and passes the 100 through respond() like any provisional.
import { defaultTimers, T1, T2, T4, type TimerHandle, type Timers } from "./timers.js";

export type InviteServerState = "proceeding" | "accepted" | "completed" | "confirmed" | "terminated";

/** Timer H: 64*T1 (§17.2.1). */
const TIMER_H = 64 * T1;
/** Timer L: 64*T1 (RFC 6026 §8.7). */
export const TIMER_L = 64 * T1;

/**
 * The moves of Figure 7 (as amended by RFC 6026), self-loops included where the TU drives them
 * (a 1xx in Proceeding, a further 2xx in Accepted); anything else is refused.
 */
const NEXT: Readonly<Record<InviteServerState, readonly InviteServerState[]>> = {
  proceeding: ["proceeding", "accepted", "completed", "terminated"],
  accepted: ["accepted", "terminated"],
  completed: ["confirmed", "terminated"],
  confirmed: ["terminated"],
  terminated: [],
};

export interface InviteServerTransactionOptions {
  /** Hands bytes to the transport toward the previous hop (§18.2.2). Must not throw. */
  send: (data: Buffer) => void;
  /** TCP, TLS, SCTP, WS: no Timer G, and Confirmed is left at once. */
  reliable: boolean;
  timers?: Timers;
  /** Called once, when the transaction enters Terminated (whatever the cause). */
  onTerminated?: () => void;
  /** Timer H fired: the ACK for the non-2xx final never came (§17.2.1: "a transaction failure"). */
  onAckTimeout?: () => void;
}

export class InviteServerTransaction {
  // §17.2.1: "When a server transaction is constructed for a request, it enters the "Proceeding" state."
  private current: InviteServerState = "proceeding";
  private lastProvisional: Buffer | undefined;
  private lastFinal: Buffer | undefined;
  private readonly send: (data: Buffer) => void;
  private readonly reliable: boolean;
  private readonly timers: Timers;
  private readonly onTerminated: (() => void) | undefined;
  private readonly onAckTimeout: (() => void) | undefined;
  private timerG: TimerHandle | undefined;
  private timerH: TimerHandle | undefined;
  private timerI: TimerHandle | undefined;
  private timerL: TimerHandle | undefined;

  constructor(opts: InviteServerTransactionOptions) {
    this.send = opts.send;
    this.reliable = opts.reliable;
    this.timers = opts.timers ?? defaultTimers;
    this.onTerminated = opts.onTerminated;
    this.onAckTimeout = opts.onAckTimeout;
  }

  get state(): InviteServerState {
    return this.current;
  }

  /**
   * Sends a response from the TU. Returns false, sending nothing, when Figure 7 has no such move
   * (a 1xx after a final, a 3xx-6xx after a 2xx, a 2xx after a 3xx-6xx, anything once terminated).
   * A status outside 100-699 is a programming error and throws.
   */
  respond(status: number, data: Buffer): boolean {
    if (!Number.isInteger(status) || status < 100 || status > 699)
      throw new RangeError(`not a SIP status code: ${status}`);
    const to: InviteServerState = status < 200 ? "proceeding" : status < 300 ? "accepted" : "completed";
    if (!this.transition(to)) return false;
    if (status < 200) this.lastProvisional = data;
    else if (status >= 300) this.lastFinal = data;
    // §17.2.1: "So long as the server transaction is in the "Proceeding" state, each of these
    // MUST be passed to the transport layer for transmission." — the same for the 2xx (RFC 6026
    // §8.5), the 300-699 (§17.2.1) and the TU's further 2xx in Accepted (RFC 6026 §8.7).
    this.send(data);
    return true;
  }

  /** A retransmission of the INVITE matched this transaction (§17.2.3); it never reaches the TU. */
  receiveRequestRetransmission(): void {
    switch (this.current) {
      case "proceeding":
        // §17.2.1: "If a request retransmission is received while in the "Proceeding" state, the
        // most recent provisional response that was received from the TU MUST be passed to the
        // transport layer for retransmission."
        if (this.lastProvisional) this.send(this.lastProvisional);
        return;
      case "completed":
        // §17.2.1: "while in the "Completed" state, if a request retransmission is received, the
        // server SHOULD pass the response to the transport for retransmission."
        if (this.lastFinal) this.send(this.lastFinal);
        return;
      case "accepted":
        // RFC 6026 §7.1: retransmissions of the INVITE are "absorbed entirely within the server
        // transaction": the 2xx is the TU's to retransmit (§13.3.1.4), nothing is sent here.
        return;
      case "confirmed":
      case "terminated":
        return;
    }
  }

  /**
   * An ACK matched this transaction (§17.2.3). True when the transaction absorbed it (the ACK
   * for its 300-699, or a retransmission of that ACK); false when it is the TU's (the ACK for a
   * 2xx, which RFC 6026 §7.1 passes to the TU from Accepted) or matched nothing live.
   */
  receiveAck(): boolean {
    switch (this.current) {
      case "completed":
        // §17.2.1: "If an ACK is received while the server transaction is in the "Completed"
        // state, the server transaction MUST transition to the "Confirmed" state."
        this.transition("confirmed");
        return true;
      case "confirmed":
        // §17.2.1: "The purpose of the "Confirmed" state is to absorb any additional ACK
        // messages that arrive, triggered from retransmissions of the final response."
        return true;
      case "proceeding":
      case "accepted":
      case "terminated":
        return false;
    }
  }

  /** For the owner: stop every timer and forget the transaction now (e.g. on shutdown). */
  cancelTimersAndTerminate(): void {
    this.transition("terminated");
  }

  /** The guarded move: refuses what Figure 7 does not draw, runs the new state's entry actions. */
  private transition(to: InviteServerState): boolean {
    const from = this.current;
    if (!NEXT[from].includes(to)) return false;
    this.current = to;
    if (from === to) return true;
    // Each state keeps only the response it may send again: Proceeding the last provisional,
    // Completed the final; Accepted (32 s, Timer L) and what follows neither.
    if (to !== "proceeding") this.lastProvisional = undefined;
    if (to !== "completed") this.lastFinal = undefined;
    switch (to) {
      case "accepted":
        // RFC 6026 §8.7: Timer L "reflects the amount of time the server transaction could
        // receive 2xx responses for retransmission from the TU while it is waiting to receive
        // an ACK"; when it fires in Accepted, the transaction "MUST transition to the
        // "Terminated" state."
        this.timerL = this.timers.set(TIMER_L, () => this.transition("terminated"));
        break;
      case "completed":
        // §17.2.1: "For unreliable transports, timer G is set to fire in T1 seconds, and is not
        // set to fire for reliable transports." and "When the "Completed" state is entered,
        // timer H MUST be set to fire in 64*T1 seconds for all transports."
        if (!this.reliable) this.armTimerG(T1);
        this.timerH = this.timers.set(TIMER_H, () => this.fireTimerH());
        break;
      case "confirmed":
        // §17.2.1: "As Timer G is ignored in this state, any retransmissions of the response will
        // cease." and "When this state is entered, timer I is set to fire in T4 seconds for
        // unreliable transports, and zero seconds for reliable transports."
        this.clearCompletedTimers();
        this.timerI = this.timers.set(this.reliable ? 0 : T4, () => this.transition("terminated"));
        break;
      case "terminated":
        // "Once the transaction is in the "Terminated" state, it MUST be destroyed immediately."
        this.clearCompletedTimers();
        this.timers.clear(this.timerI);
        this.timers.clear(this.timerL);
        this.timerI = this.timerL = undefined;
        this.onTerminated?.();
        break;
      case "proceeding":
        break;
    }
    return true;
  }

  /**
   * §17.2.1: "If timer G fires, the response is passed to the transport layer once more for
   * retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds. From then on, when
   * timer G fires, the response is passed to the transport again for transmission, and timer G
   * is reset with a value that doubles, unless that value exceeds T2, in which case it is reset
   * with the value of T2."
   */
  private armTimerG(interval: number): void {
    this.timerG = this.timers.set(interval, () => {
      if (this.current !== "completed" || !this.lastFinal) return;
      this.send(this.lastFinal);
      this.armTimerG(Math.min(2 * interval, T2));
    });
  }

  /**
   * §17.2.1: "If timer H fires while in the "Completed" state, it implies that the ACK was never
   * received. In this case, the server transaction MUST transition to the "Terminated" state,
   * and MUST indicate to the TU that a transaction failure has occurred."
   */
  private fireTimerH(): void {
    this.timerH = undefined;
    if (this.current !== "completed") return;
    this.onAckTimeout?.();
    this.transition("terminated");
  }

  private clearCompletedTimers(): void {
    this.timers.clear(this.timerG);
    this.timers.clear(this.timerH);
    this.timerG = this.timerH = undefined;
  }
}
