// What the INVITE and non-INVITE client transactions (RFC 3261 §17.1) share: the interface to
// their transaction user (a proxy's response context, a UAC core) and their options.
// Matching a response to its client transaction (§17.1.3: top Via branch and CSeq method) is
// the owner's job; the transaction only sees the responses that matched it.
import { type SipRequest, type SipResponse, serialize } from "../message/index.js";
import type { InviteClientTransaction } from "./invite-client.js";
import type { NonInviteClientTransaction } from "./non-invite-client.js";
import { defaultTimers, type Timers } from "./timers.js";

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

export interface ClientTransactionUser<T extends ClientTransaction = ClientTransaction> {
  /** A response the TU must see (retransmissions the transaction absorbs never come here). */
  onResponse(res: SipResponse, tx: T): void;
  /** Timer B (INVITE) or Timer F (non-INVITE) fired before a final response: treat as a 408. */
  onTimeout(tx: T): void;
}

/**
 * A TU that takes nothing: a transaction's past its final (its callbacks, with what they hold, let
 * go), or one whose responses change nothing (a proxy's CANCEL, §9.1).
 */
export const DONE: ClientTransactionUser<ClientTransaction> = { onResponse() {}, onTimeout() {} };

export interface ClientTransactionOptions<T extends ClientTransaction> {
  /** The request as sent, with our Via (carrying the branch) on top. */
  request: SipRequest;
  /** `request` serialized, when the owner already has it (else the transaction serializes it) */
  bytes?: Buffer;
  /**
   * Hands bytes to the transport toward the next hop. Must not throw: a transport failure is
   * reported to the owner by the transport, and the owner calls cancelTimersAndTerminate().
   */
  send: (data: Buffer) => void;
  /** TCP, TLS, SCTP, WS: no retransmissions, and the Completed state is left at once. */
  reliable: boolean;
  user: ClientTransactionUser<T>;
  timers?: Timers;
  /** Called once, when the transaction enters Terminated (whatever the cause). */
  onTerminated?: (tx: T) => void;
}

/**
 * The plumbing both client transactions have, set once from their options: the bytes sent (and
 * retransmitted), the transport, the TU, the clock. The state machines stay in the subclasses.
 */
export abstract class ClientTransactionBase<T extends ClientTransaction> {
  protected started = false;
  /** The request as serialized once; a retransmission is these bytes again. */
  protected bytes: Buffer | undefined;
  protected readonly send: (data: Buffer) => void;
  protected readonly reliable: boolean;
  protected user: ClientTransactionUser<T>;
  protected readonly timers: Timers;
  protected readonly onTerminated: ((tx: T) => void) | undefined;

  protected constructor(opts: ClientTransactionOptions<T>) {
    if (!opts.request.headers.has("Via")) throw new TypeError(`the ${opts.request.method} has no Via`);
    this.bytes = opts.bytes ?? serialize(opts.request);
    this.send = opts.send;
    this.reliable = opts.reliable;
    this.user = opts.user;
    this.timers = opts.timers ?? defaultTimers;
    this.onTerminated = opts.onTerminated;
  }
}
