// When rows cached in this process may have been changed by another (CONTRACT §15): a version a
// cache compares (extension-cache.ts drops everything when it moves). Trusted only while the
// deployment bus is heard: before it listens and after it is lost, every look is a new version,
// so the cache keeps nothing for more than its probe interval (1 ms).
export class ChangeFeed {
  private version = 0;
  private live = false;

  /** The version now (what `cachingExtensionStore` takes as its data version). */
  readonly value = (): number => (this.live ? this.version : ++this.version);

  /** Another writer committed a change (the bus's "ext" message). */
  changed(): void {
    this.version++;
  }

  /** The bus listens: from now on every change is heard. */
  listening(): void {
    this.version++;
    this.live = true;
  }

  /** The bus is lost: changes may go unheard, so nothing cached is trusted any more. */
  lost(): void {
    this.live = false;
  }
}
