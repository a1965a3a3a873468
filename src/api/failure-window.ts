// Counts failures per key (a client address) in fixed windows, to slow down password guessing:
// past `limit` failures in one window the key is refused until the window ends. Memory is
// bounded: the whole table is dropped when a window ends.

export interface FailureWindowOptions {
  limit: number;
  windowMs: number;
  now?: () => number;
}

export class FailureWindow {
  private counts = new Map<string, number>();
  private windowStart: number;
  private readonly now: () => number;

  constructor(private readonly opts: FailureWindowOptions) {
    this.now = opts.now ?? Date.now;
    this.windowStart = this.now();
  }

  /** Seconds until the key may try again, or 0 when it may try now. */
  retryAfter(key: string): number {
    this.roll();
    if ((this.counts.get(key) ?? 0) < this.opts.limit) return 0;
    return Math.max(1, Math.ceil((this.windowStart + this.opts.windowMs - this.now()) / 1000));
  }

  fail(key: string): void {
    this.roll();
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  private roll(): void {
    if (this.now() - this.windowStart < this.opts.windowMs) return;
    this.counts = new Map();
    this.windowStart = this.now();
  }
}
