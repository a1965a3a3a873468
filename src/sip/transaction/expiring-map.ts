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
