// What the INVITE and non-INVITE client transactions (RFC 3261 §17.1) share: the interface to
// their transaction user (a proxy's response context, a UAC core) and their options.
// Matching a response to its client transaction (§17.1.3: top Via branch and CSeq method) is
// the owner's job; the transaction only sees the responses that matched it.
import type { SipRequest, SipResponse } from "../message/index.js";
import type { InviteClientTransaction } from "./invite-client.js";
import type { NonInviteClientTransaction } from "./non-invite-client.js";
import type { Timers } from "./timers.js";

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

export interface ClientTransactionUser<T extends ClientTransaction = ClientTransaction> {
  /** A response the TU must see (retransmissions the transaction absorbs never come here). */
  onResponse(res: SipResponse, tx: T): void;
  /** Timer B (INVITE) or Timer F (non-INVITE) fired before a final response: treat as a 408. */
  onTimeout(tx: T): void;
}

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
