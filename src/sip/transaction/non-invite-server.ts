// Non-INVITE server transactions (RFC 3261 §17.2.2). A retransmitted request is answered from
// the transaction, never handed to the TU again:
//   Trying     — request received, no response yet: retransmissions are absorbed.
//   Proceeding — a provisional was sent: retransmissions get it again.
//   Completed  — a final was sent: retransmissions get it again until Timer J fires.
//   Terminated — forgotten.
// Timer J is 64*T1 (32 s) for unreliable transports and 0 for reliable ones (§17.2.2).
// Instead of one timer per transaction, transactions are kept in an ExpiringMap (two generations
// swapped every Timer J): a completed one is kept between J and 2J, which only widens the window
// in which a retransmission is recognised. A completed UDP transaction is kept as its final
// response alone: a retransmission is answered on its own flow, to the address its own (same)
// Via gives, so nothing else needs to live the 32-64 s (at thousands of registrations per second
// those objects were most of the old generation).
import { detach, ownCopy } from "../message/detach.js";
import type { Flow } from "../transport/flow.js";
import { ExpiringMap } from "./matching.js";
import { T1 } from "./timers.js";

export const T1_MS = T1;
export const TIMER_J_MS = 64 * T1_MS;

type State = "trying" | "proceeding" | "completed";

export interface ServerTransaction {
  readonly key: string;
  state: State;
  /** the last response sent, replayed to retransmissions */
  last: Buffer | undefined;
  flow: Flow;
  /** where responses go (RFC 3261 §18.2.2), fixed at creation */
  address: string;
  port: number;
}

export class NonInviteServerTransactions {
  /** a transaction in progress, or the final response of a completed UDP one */
  private readonly kept: ExpiringMap<ServerTransaction | Buffer>;
  retransmissionsAbsorbed = 0;

  constructor(timerJMs = TIMER_J_MS) {
    this.kept = new ExpiringMap(timerJMs);
  }

  /**
   * Matches a request to its transaction (§17.2.3). A match is answered here (the last
   * response is sent again) and undefined is returned; a new request gets a new transaction
   * for the TU to answer.
   */
  receive(key: string, flow: Flow, address: string, port: number): ServerTransaction | undefined {
    const known = this.kept.get(key);
    if (known) {
      this.retransmissionsAbsorbed++;
      if (Buffer.isBuffer(known)) flow.send(known, address, port);
      else if (known.last && known.state !== "trying") flow.send(known.last, address, port);
      return undefined;
    }
    // The key is made of pieces of the request's text (branch, sent-by): a detached copy, so a
    // transaction does not hold its request's ~1 KB text for the 32-64 s it is kept.
    const own = detach(key);
    const fresh: ServerTransaction = { key: own, state: "trying", last: undefined, flow, address, port };
    this.kept.add(own, fresh);
    return fresh;
  }

  /** Sends a response in the transaction and moves its state (guarded: a final is final). */
  respond(tx: ServerTransaction, status: number, data: Buffer): void {
    if (tx.state === "completed") return;
    tx.last = data;
    tx.flow.send(data, tx.address, tx.port);
    if (status >= 200) {
      tx.state = "completed";
      // Reliable transports: Timer J is zero, the transaction ends now (§17.2.2).
      if (tx.flow.transport !== "UDP") this.forget(tx.key);
      else this.kept.replace(tx.key, ownCopy(data));
    } else {
      tx.state = "proceeding";
    }
  }

  /**
   * A rejection answered statelessly (CONTRACT §9, as Kamailio's sl_send_reply): the response
   * goes once and the transaction is forgotten, so a retransmission of the request is answered
   * afresh and a spoofed request never makes more than one datagram come back. Keeping the
   * response for Timer J would only hold memory for what costs nothing to recompute.
   */
  respondStateless(tx: ServerTransaction, data: Buffer): void {
    if (tx.state === "completed") return;
    tx.state = "completed";
    tx.flow.send(data, tx.address, tx.port);
    this.forget(tx.key);
  }

  /** Drops a transaction whose request could not be answered (the TU gave up). */
  forget(key: string): void {
    this.kept.delete(key);
  }

  size(): number {
    return this.kept.size;
  }
}
