// Bans per source address after failed digest answers (CONTRACT §14): `failures` wrong
// credentials from one address within `windowMs` ban it for `banMs` — its datagrams and
// connections are dropped unanswered, so a password guesser learns nothing more and costs
// nothing more. Trusted sources are never banned. Only failed *answers* count (a request with
// credentials that do not verify), never the first, unauthenticated request a phone sends.

/** Who a failed answer was aimed at: the realm (a customer's domain) and the digest username. */
export interface BanTarget {
  realm: string;
  username: string;
}

export interface Ban {
  source: string;
  /** the last target of the failures that led to it */
  target: BanTarget;
  failures: number;
  /** milliseconds since the epoch */
  createdAt: number;
  expiresAt: number;
}

export interface SourceBansOptions {
  failures: number;
  windowMs: number;
  banMs: number;
  /** sources never banned (SIPEXT_SIP_TRUSTED_SOURCES) */
  trusted(address: string): boolean;
  now?: () => number;
}

/** Past this many sources counted in one window, the counts start over (bounded memory). */
const MAX_COUNTED = 100_000;

export class SourceBans {
  private readonly banned = new Map<string, number>();
  /** failures per source since its first one of the window (each source's window starts there) */
  private counts = new Map<string, { n: number; since: number }>();
  private readonly now: () => number;
  /** told of every new ban: the transports close its connections, the store keeps it */
  private readonly listeners: Array<(ban: Ban) => void> = [];
  /** told of every failure counted here: the other nodes count it too (CONTRACT §15) */
  onCounted: ((address: string) => void) | undefined;

  constructor(private readonly o: SourceBansOptions) {
    this.now = o.now ?? Date.now;
  }

  onBan(listener: (ban: Ban) => void): void {
    this.listeners.push(listener);
  }

  /** True while `address` is banned (an expired ban is forgotten here). */
  isBanned(address: string): boolean {
    const until = this.banned.get(address);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.banned.delete(address);
    return false;
  }

  /** A failed digest answer from `address`; returns the ban when this one made it. */
  failed(address: string, target: BanTarget): Ban | undefined {
    if (this.o.trusted(address) || this.isBanned(address)) return undefined;
    const now = this.now();
    const n = this.count(address, now, 1);
    this.onCounted?.(address);
    if (n < this.o.failures) return undefined;
    this.counts.delete(address);
    const ban: Ban = { source: address, target, failures: n, createdAt: now, expiresAt: now + this.o.banMs };
    this.banned.set(address, ban.expiresAt);
    for (const l of this.listeners) l(ban);
    return ban;
  }

  /**
   * Failed answers from `address` that other nodes saw: counted here too, so guesses spread over
   * the nodes of a deployment add up. The node whose own failure reaches the limit bans.
   */
  failedElsewhere(address: string, n: number): void {
    if (!this.o.trusted(address) && !this.isBanned(address)) this.count(address, this.now(), n);
  }

  /** Adds `n` to the failures of `address` in its window; returns its count. */
  private count(address: string, now: number, n: number): number {
    let c = this.counts.get(address);
    if (!c || now - c.since >= this.o.windowMs) {
      // A flood of sources (spoofed, or a botnet one failure each) cannot grow this for ever.
      if (!c && this.counts.size >= MAX_COUNTED) this.counts = new Map();
      c = { n: 0, since: now };
      this.counts.set(address, c);
    }
    c.n += n;
    return c.n;
  }

  /** A ban known from elsewhere (the database at start-up, another node). */
  add(address: string, expiresAt: number): void {
    if (expiresAt > this.now()) this.banned.set(address, expiresAt);
  }

  /** Lifts a ban (an operator's DELETE /v1.0/sip-bans/{id}). */
  lift(address: string): void {
    this.banned.delete(address);
  }

  get size(): number {
    return this.banned.size;
  }
}
