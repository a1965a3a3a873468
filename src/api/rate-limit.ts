// API rate limits (CONTRACT §17, as VoIPbin: per source address and per customer): token buckets
// of `rate` requests per second holding at most 2 × rate, refilled continuously. A request takes
// one token from its address's bucket before anything else is done for it, and one from its
// customer's once its credential is known; an empty bucket answers 429 RESOURCE_EXHAUSTED with
// Retry-After and `error.details[0].limited_by`. Nodes of one deployment tell each other what
// their clients took (../adapters/deployment-sync.ts), each node draining its own buckets by it.
import type { FastifyReply, FastifyRequest } from "fastify";

/** Buckets this full are forgotten (a full bucket is the same as none) once the map grows past this. */
const SWEEP_AT = 50_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;
  readonly burst: number;

  constructor(
    readonly rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.perMs = rate / 1000;
    this.burst = 2 * rate;
  }

  private refilled(key: string): { tokens: number; at: number } {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(t);
      b = { tokens: this.burst, at: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + (t - b.at) * this.perMs);
      b.at = t;
    }
    return b;
  }

  /** Takes a token: 0 when there was one, else the seconds until there is (for Retry-After). */
  take(key: string): number {
    const b = this.refilled(key);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.perMs / 1000;
  }

  /** Tokens taken on other nodes: the bucket empties by as much (never below empty). */
  drain(key: string, n: number): void {
    const b = this.refilled(key);
    b.tokens = Math.max(0, b.tokens - n);
  }

  private sweep(t: number): void {
    for (const [k, b] of this.buckets)
      if (b.tokens + (t - b.at) * this.perMs >= this.burst) this.buckets.delete(k);
  }
}

export type LimitedBy = "ip" | "customer";

export interface RateLimits {
  /** requests per second per source address; 0: no limit */
  ipRate: number;
  /** requests per second per customer; 0: no limit */
  customerRate: number;
}

/** Paths never limited: health and metrics (CONTRACT §12) are for the operator's monitoring. */
const UNLIMITED = /^\/(?:health|ready|live|metrics)(?:[/?]|$)/;

export class RateLimiter {
  readonly ip: TokenBuckets | undefined;
  readonly customer: TokenBuckets | undefined;
  /** told of every token taken here (the deployment bus adds them up across nodes) */
  readonly onTaken: Array<(by: LimitedBy, key: string) => void> = [];

  constructor(limits: RateLimits, now?: () => number) {
    this.ip = limits.ipRate > 0 ? new TokenBuckets(limits.ipRate, now) : undefined;
    this.customer = limits.customerRate > 0 ? new TokenBuckets(limits.customerRate, now) : undefined;
  }

  /** Tokens taken on another node. */
  takenElsewhere(by: LimitedBy, key: string, n: number): void {
    (by === "ip" ? this.ip : this.customer)?.drain(key, n);
  }

  private check(by: LimitedBy, buckets: TokenBuckets, key: string, req: FastifyRequest, reply: FastifyReply) {
    const wait = buckets.take(key);
    if (wait === 0) {
      for (const f of this.onTaken) f(by, key);
      return undefined;
    }
    const retryAfter = Math.max(1, Math.ceil(wait));
    const what = by === "ip" ? `address ${key}` : "customer";
    return reply
      .code(429)
      .header("retry-after", String(retryAfter))
      .send({
        error: {
          status: "RESOURCE_EXHAUSTED",
          reason: "RATE_LIMITED",
          message: `too many requests from this ${what} (${buckets.rate}/s, bursts of ${buckets.burst}): retry after ${retryAfter} s`,
          request_id: req.id,
          details: [{ limited_by: by, retry_after: retryAfter }],
        },
      });
  }

  /** onRequest hook of the whole app: the source address's bucket (SIPEXT_TRUST_PROXY applied by req.ip). */
  byAddress = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!this.ip || UNLIMITED.test(req.url)) return;
    return this.check("ip", this.ip, req.ip, req, reply);
  };

  /** onRequest hook after authentication: the customer's bucket. */
  byCustomer = async (req: FastifyRequest, reply: FastifyReply) => {
    const customerId = req.principal?.customerId;
    if (!this.customer || customerId === undefined) return;
    return this.check("customer", this.customer, customerId, req, reply);
  };
}
