// The INVITE client transaction (RFC 3261 §17.1.1, Figure 5), with the Accepted state of
// RFC 6026 §7.2:
//   Calling    — INVITE sent; Timer A retransmits it (unreliable transports), Timer B times out.
//   Proceeding — a provisional arrived: no more retransmissions, no timeout (the TU has Timer C).
//   Accepted   — a 2xx arrived: every further 2xx is passed up until Timer M (RFC 6026).
//   Completed  — a 300-699 arrived and was ACKed: retransmissions of it are ACKed again until Timer D.
//   Terminated — forgotten.

import { ownCopy } from "../message/detach.js";
import { getCSeq, SipHeaders, type SipRequest, type SipResponse, serialize } from "../message/index.js";
import { ClientTransactionBase, type ClientTransactionOptions, DONE } from "./client-transaction.js";
import { T1, type TimerHandle } from "./timers.js";

export type { ClientTransactionUser } from "./client-transaction.js";

export type InviteClientState = "calling" | "proceeding" | "accepted" | "completed" | "terminated";

/** Timer B: 64*T1 (§17.1.1.2). */
const TIMER_B = 64 * T1;
/** Timer D: "at least 32 seconds for unreliable transports" (§17.1.1.2). */
const TIMER_D = 32_000;
/** Timer M: 64*T1 (RFC 6026 §8.4). */
const TIMER_M = 64 * T1;

/** The moves of Figure 5 (as amended by RFC 6026); anything else is refused. */
const NEXT: Readonly<Record<InviteClientState, readonly InviteClientState[]>> = {
  calling: ["proceeding", "accepted", "completed", "terminated"],
  proceeding: ["accepted", "completed", "terminated"],
  accepted: ["terminated"],
  completed: ["terminated"],
  terminated: [],
};

export class InviteClientTransaction extends ClientTransactionBase<InviteClientTransaction> {
  /**
   * The INVITE, until a final response: the ACK of a 300-699 is built from it. Dropped then, as
   * are the bytes when retransmissions stop: an Accepted transaction lives 32 s (Timer M) at
   * the call rate, and holding its messages that long was most of a busy proxy's heap.
   */
  private request: SipRequest | undefined;
  private current: InviteClientState = "calling";
  /** The ACK for the non-2xx final, built once and resent for each retransmission of it. */
  private ack: Buffer | undefined;
  private timerA: TimerHandle | undefined;
  private timerB: TimerHandle | undefined;
  private timerD: TimerHandle | undefined;
  private timerM: TimerHandle | undefined;

  constructor(opts: ClientTransactionOptions<InviteClientTransaction>) {
    const { request } = opts;
    if (request.method !== "INVITE") throw new TypeError(`not an INVITE: ${request.method}`);
    super(opts);
    if (getCSeq(request.headers) === undefined) throw new TypeError("the INVITE has no valid CSeq");
    this.request = request;
  }

  get state(): InviteClientState {
    return this.current;
  }

  /**
   * §17.1.1.2: "The client transaction MUST pass the request to the transport layer for
   * transmission. If an unreliable transport is being used, the client transaction MUST start
   * timer A with a value of T1. [...] For any transport, the client transaction MUST start
   * timer B with a value of 64*T1 seconds".
   */
  start(): void {
    if (this.started) throw new Error("the INVITE client transaction was already started");
    this.started = true;
    if (this.current !== "calling" || !this.bytes) return;
    this.send(this.bytes);
    if (!this.reliable) this.armTimerA(T1);
    this.timerB = this.timers.set(TIMER_B, () => this.fireTimerB());
  }

  /** A response that matched this transaction (§17.1.3). */
  receive(res: SipResponse): void {
    const status = res.status;
    switch (this.current) {
      case "calling":
      case "proceeding":
        if (status < 200) {
          // §17.1.1.2: "If the client transaction receives a provisional response while in the
          // "Calling" state, it transitions to the "Proceeding" state. [...] Furthermore, the
          // provisional response MUST be passed to the TU. Any further provisional responses
          // MUST be passed up to the TU while in the "Proceeding" state."
          if (this.current === "calling") this.transition("proceeding");
          this.user.onResponse(res, this);
        } else if (status < 300) {
          // RFC 6026 §8.4: "If any 2xx is received while in the "Calling" or "Proceeding" states,
          // the client transaction MUST transition to the "Accepted" state" [...] and the 2xx
          // is passed up; the ACK for it is the TU's (§13.2.2.4), never the transaction's.
          this.transition("accepted");
          this.user.onResponse(res, this);
        } else {
          // §17.1.1.2: "reception of a response with status code from 300-699 MUST cause the
          // client transaction to transition to "Completed". The client transaction MUST pass
          // the received response up to the TU, and the client transaction MUST generate an
          // ACK request, even if the transport is reliable".
          // kept through Timer D (32 s) for retransmitted finals
          const ack = ownCopy(buildAck(this.request as SipRequest, res));
          this.ack = ack;
          const user = this.user;
          this.transition("completed");
          this.send(ack);
          user.onResponse(res, this);
        }
        return;
      case "accepted":
        // RFC 6026 §7.2: "Any 2xx responses that match this client transaction and that are
        // received while in the "Accepted" state MUST be passed up to the TU." (retransmissions,
        // and the 2xx of other branches when the INVITE forked downstream). Anything else is dropped.
        if (status >= 200 && status < 300) this.user.onResponse(res, this);
        return;
      case "completed":
        // §17.1.1.2: "Any retransmissions of the final response that are received while in the
        // "Completed" state MUST cause the ACK to be re-passed to the transport layer for
        // retransmission, but the newly received response MUST NOT be passed up to the TU."
        if (status >= 300 && this.ack) this.send(this.ack);
        return;
      case "terminated":
        return;
    }
  }

  /** For the owner: stop every timer and forget the transaction now (e.g. on a transport error). */
  cancelTimersAndTerminate(): void {
    this.transition("terminated");
  }

  /** The guarded move: refuses what Figure 5 does not draw, runs the new state's entry actions. */
  private transition(to: InviteClientState): boolean {
    if (!NEXT[this.current].includes(to)) return false;
    this.current = to;
    // Only Calling retransmits the INVITE, and only a final response (met in Calling or
    // Proceeding) needs it to build an ACK.
    this.bytes = undefined;
    if (to !== "proceeding") this.request = undefined;
    // Completed (Timer D, 32 s) and Terminated pass nothing up: the TU is let go, with whatever
    // its callbacks hold (the call, its request).
    if (to === "completed" || to === "terminated") this.user = DONE;
    switch (to) {
      case "proceeding":
        // §17.1.1.2: "In the "Proceeding" state, the client transaction SHOULD NOT retransmit
        // the request any longer." Timer B only acts in Calling.
        this.clearCallingTimers();
        break;
      case "accepted":
        this.clearCallingTimers();
        this.timerM = this.timers.set(TIMER_M, () => this.transition("terminated"));
        break;
      case "completed":
        this.clearCallingTimers();
        // §17.1.1.2: "The client transaction SHOULD start timer D when it enters the "Completed"
        // state, with a value of at least 32 seconds for unreliable transports, and a value of
        // zero seconds for reliable transports."
        this.timerD = this.timers.set(this.reliable ? 0 : TIMER_D, () => this.transition("terminated"));
        break;
      case "terminated":
        // "The client transaction MUST be destroyed the instant it enters the "Terminated" state"
        this.clearCallingTimers();
        this.timers.clear(this.timerD);
        this.timers.clear(this.timerM);
        this.timerD = this.timerM = undefined;
        this.onTerminated?.(this);
        break;
      case "calling":
        break;
    }
    return true;
  }

  /**
   * §17.1.1.2: "When timer A fires, the client transaction MUST retransmit the request by
   * passing it to the transport layer, and MUST reset the timer with a value of 2*T1." The
   * interval keeps doubling with no T2 cap for an INVITE.
   */
  private armTimerA(interval: number): void {
    this.timerA = this.timers.set(interval, () => {
      if (this.current !== "calling" || !this.bytes) return;
      this.send(this.bytes);
      this.armTimerA(interval * 2);
    });
  }

  /**
   * §17.1.1.2: "If the client transaction is still in the "Calling" state when timer B fires,
   * the client transaction SHOULD inform the TU that a timeout has occurred. The client
   * transaction MUST NOT generate an ACK."
   */
  private fireTimerB(): void {
    this.timerB = undefined;
    if (this.current !== "calling") return;
    this.user.onTimeout(this);
    this.transition("terminated");
  }

  private clearCallingTimers(): void {
    this.timers.clear(this.timerA);
    this.timers.clear(this.timerB);
    this.timerA = this.timerB = undefined;
  }
}

/**
 * The ACK for a 300-699 final (§17.1.1.3): "The ACK request constructed by the client
 * transaction MUST contain values for the Call-ID, From, and Request-URI that are equal to the
 * values of those header fields in the request passed to the transport by the client
 * transaction [...]. The To header field in the ACK MUST equal the To header field in the
 * response being acknowledged [...]. The ACK MUST contain a single Via header field, and this
 * MUST be equal to the top Via header field of the original request. The CSeq header field in
 * the ACK MUST contain the same value for the sequence number as was present in the original
 * request, but the method parameter MUST be equal to "ACK"." and "If the INVITE request whose
 * response is being acknowledged had Route header fields, those header fields MUST appear in
 * the ACK."
 */
function buildAck(invite: SipRequest, res: SipResponse): Buffer {
  const h = invite.headers;
  const cseq = getCSeq(h);
  const topVia = h.getAll("Via")[0];
  if (!cseq || topVia === undefined) throw new TypeError("the INVITE lacks a CSeq or a Via");
  const headers = new SipHeaders([["Via", topVia]]);
  for (const { name, value } of h.entries()) if (name === "Route") headers.append(name, value);
  headers.append("Max-Forwards", "70");
  const from = h.get("From");
  if (from !== undefined) headers.append("From", from);
  const to = res.headers.get("To") ?? h.get("To");
  if (to !== undefined) headers.append("To", to);
  const callId = h.get("Call-ID");
  if (callId !== undefined) headers.append("Call-ID", callId);
  headers.append("CSeq", `${cseq.seq} ACK`);
  headers.append("Content-Length", "0");
  const ack: SipRequest = {
    kind: "request",
    method: "ACK",
    uri: invite.uri,
    requestUri: invite.requestUri,
    version: invite.version,
    headers,
    body: Buffer.alloc(0),
  };
  return serialize(ack);
}
