// Matching a message to its transaction (RFC 3261 §17.1.3 for responses, §17.2.3 for requests):
// the keys both sides use, and the tables transactions are found in — the client transactions a
// response is matched to, and the expiring table server transactions are kept in for Timer J/L.
import { getCSeq, getFrom, getVias } from "../message/fields.js";
import { MAGIC_COOKIE } from "../message/tags.js";
import type { SipRequest, SipResponse } from "../message/types.js";
import type { Via } from "../message/via.js";
import type { ClientTransaction } from "./client-transaction.js";

/**
 * §17.2.3: the server transaction a request belongs to, as a key. An RFC 3261 branch (magic
 * cookie) with the top Via's sent-by and the method; "the method of the request matches the one
 * that created the transaction, except for ACK, where the method of the request that created the
 * transaction is INVITE" — so an ACK or a CANCEL asks for `method` "INVITE" to find its INVITE.
 * Older (RFC 2543) peers are matched on the request's identity instead.
 */
export function serverKey(req: SipRequest, top: Via, method: string): string {
  const branch = top.params.get("branch") ?? "";
  const sentBy = `${top.host}:${top.port ?? ""}`;
  if (branch.startsWith(MAGIC_COOKIE)) return `${branch}|${sentBy}|${method}`;
  const cseq = getCSeq(req.headers)?.seq;
  const fromTag = getFrom(req.headers)?.params.get("tag") ?? "";
  const uri = method === "CANCEL" || method === "ACK" ? "" : req.uri;
  return `${req.headers.get("Call-ID")}|${cseq}|${fromTag}|${sentBy}|${method}|${uri}`;
}

/** §17.1.3: a client transaction is named by the branch it sent and its CSeq method. */
export const clientKey = (branch: string, method: string): string => `${branch}|${method}`;

/** The top Via's branch of a message, "" when it has none. */
export const topBranch = (m: SipRequest | SipResponse): string =>
  getVias(m.headers)?.[0]?.params.get("branch") ?? "";

/** The client transactions in progress, found by the responses that match them (§17.1.3). */
export class ClientTransactions {
  private readonly live = new Map<string, ClientTransaction>();

  /** Registers a transaction under the branch it sends and its method, until it ends. */
  add(branch: string, method: string, tx: ClientTransaction): void {
    this.live.set(clientKey(branch, method), tx);
  }

  delete(branch: string, method: string): void {
    this.live.delete(clientKey(branch, method));
  }

  /**
   * What a transaction registered here under (branch, method) keeps to its end: its way to the
   * next hop and its removal from this table once Terminated. Made here, not where the request is
   * forwarded: V8 gives all the closures of one scope one shared context, so a `send` made there
   * keeps everything that scope held (the request, the call) through Timer K (5 s) or D (32 s)
   * after the final — at a busy proxy's rate, most of what its scavenges copied.
   */
  hooks<F>(branch: string, method: string, transport: { send(to: F, data: Buffer): void }, to: F) {
    return {
      send: (data: Buffer) => transport.send(to, data),
      onTerminated: () => this.delete(branch, method),
    };
  }

  /**
   * "the response matches a client transaction if the branch parameter in the top Via header
   * field of the response is equal to the value of the branch parameter in the top Via header
   * field of the request that created the transaction" and "the method parameter in the CSeq
   * header field matches the method of the request that created the transaction" (§17.1.3).
   */
  match(res: SipResponse): ClientTransaction | undefined {
    const method = getCSeq(res.headers)?.method;
    return method === undefined ? undefined : this.live.get(clientKey(topBranch(res), method));
  }

  get size(): number {
    return this.live.size;
  }
}

// Entries that are forgotten between `lifetimeMs` and twice that after they were added: two
// generations of maps, the older dropped whole when the newer is a lifetime old. A transaction
// kept for its Timer J or L this way costs a map slot instead of a timer of its own; the
// longer keeping only widens the window in which a retransmission is still recognised.
export class ExpiringMap<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  private rotatedAt: number;

  constructor(
    private readonly lifetimeMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  get(key: string): V | undefined {
    this.rotate();
    return this.current.get(key) ?? this.previous.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** A new entry, aged from now. */
  add(key: string, value: V): void {
    this.rotate();
    this.current.set(key, value);
  }

  /** A new value for an entry that keeps its age; false when there is no such entry. */
  replace(key: string, value: V): boolean {
    if (this.current.has(key)) this.current.set(key, value);
    else if (this.previous.has(key)) this.previous.set(key, value);
    else return false;
    return true;
  }

  delete(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  private rotate(): void {
    const now = this.now();
    if (now - this.rotatedAt < this.lifetimeMs) return;
    this.previous = now - this.rotatedAt >= 2 * this.lifetimeMs ? new Map() : this.current;
    this.current = new Map();
    this.rotatedAt = now;
  }
}
