// Slows password guessing against one username, from any number of addresses (CONTRACT §14):
// the first `freeFailures` failed logins cost nothing; from then on each failure closes the
// username for twice as long as the one before (1 s, 2 s, 4 s … up to `maxDelayMs`). A correct
// password once the wait is over logs in and clears the count, so an attacker can delay the real
// user by at most one wait at a time, never lock them out.
//
// The key is the username as sent, whether or not such a user exists: an unknown username goes
// through exactly the same steps, so the answers reveal nothing about which usernames are real.
//
// Memory is bounded: usernames still counting their free failures and usernames backing off are
// kept in two tables of at most `maxKeys` each, least recently failed dropped first, so a flood
// of one-off usernames cannot push out one that is being guessed at; a username quiet for
// `forgetMs` is forgotten.

export interface LoginBackoffOptions {
  freeFailures?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  forgetMs?: number;
  maxKeys?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  /** no attempt before this moment (ms) */
  lockedUntil: number;
  /** the last failure (ms) */
  last: number;
}

/** Failed logins per username before the back-off starts. */
export const LOGIN_FREE_FAILURES_PER_USERNAME = 10;

export class LoginBackoff {
  private readonly freeFailures: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  /** usernames with fewer failures than freeFailures, least recently failed first */
  private readonly counting = new Map<string, Entry>();
  /** usernames backing off, least recently failed first */
  private readonly backingOff = new Map<string, Entry>();

  constructor(o: LoginBackoffOptions = {}) {
    this.freeFailures = o.freeFailures ?? LOGIN_FREE_FAILURES_PER_USERNAME;
    this.baseDelayMs = o.baseDelayMs ?? 1_000;
    this.maxDelayMs = o.maxDelayMs ?? 300_000;
    this.forgetMs = o.forgetMs ?? 15 * 60_000;
    this.maxKeys = o.maxKeys ?? 50_000;
    this.now = o.now ?? Date.now;
  }

  /**
   * Seconds until `key` may try again; 0 when it may try now. An attempt that would start (or
   * continue) the back-off if it failed closes the key until its outcome is known, so many
   * guesses sent at once past the free failures count as one at a time.
   */
  begin(key: string): number {
    const e = this.entry(key);
    if (!e) return 0;
    const now = this.now();
    if (e.lockedUntil > now) return Math.max(1, Math.ceil((e.lockedUntil - now) / 1000));
    if (e.failures + 1 >= this.freeFailures) e.lockedUntil = now + this.delayAfter(e.failures + 1);
    return 0;
  }

  fail(key: string): void {
    const now = this.now();
    const e = this.entry(key) ?? { failures: 0, lockedUntil: 0, last: now };
    e.failures++;
    e.last = now;
    if (e.failures >= this.freeFailures) {
      e.lockedUntil = Math.max(e.lockedUntil, now + this.delayAfter(e.failures));
    }
    this.put(key, e);
  }

  succeed(key: string): void {
    this.counting.delete(key);
    this.backingOff.delete(key);
  }

  /** How many usernames are remembered (tests). */
  get size(): number {
    return this.counting.size + this.backingOff.size;
  }

  /** The wait after the n-th failure: 0 before freeFailures, then base × 2^k up to the cap. */
  private delayAfter(failures: number): number {
    if (failures < this.freeFailures) return 0;
    const k = Math.min(failures - this.freeFailures, 30);
    return Math.min(this.baseDelayMs * 2 ** k, this.maxDelayMs);
  }

  private stale(e: Entry, now: number): boolean {
    return e.lockedUntil <= now && now - e.last >= this.forgetMs;
  }

  private entry(key: string): Entry | undefined {
    const e = this.backingOff.get(key) ?? this.counting.get(key);
    if (e && this.stale(e, this.now())) {
      this.succeed(key);
      return undefined;
    }
    return e;
  }

  /** Files the entry as the most recent failure of its table, dropping what must go. */
  private put(key: string, e: Entry): void {
    this.counting.delete(key);
    this.backingOff.delete(key);
    const table = e.failures >= this.freeFailures ? this.backingOff : this.counting;
    table.set(key, e);
    const now = this.now();
    for (const t of [this.counting, this.backingOff]) {
      for (const [k, old] of t) {
        if (t.size <= this.maxKeys && !this.stale(old, now)) break;
        t.delete(k);
      }
    }
  }
}
