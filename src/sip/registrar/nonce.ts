// Self-validating digest nonces (RFC 7616 §3.3: "the nonce ... may contain a timestamp ... and a
// hash"): base64url(issued-at ms, 6 bytes | random, 6 bytes | HMAC-SHA256(key, realm | those 12
// bytes) cut to 16 bytes). Any node holding the key can check a nonce: no shared state.
// Nonce-count replay protection (RFC 7616 §3.4: "the server ... SHOULD check ... nonce-count") is
// per node, in memory, bounded by the nonce lifetime.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { randomInto } from "../random.js";

export type NonceCheck = "valid" | "stale" | "invalid";

export interface NonceOptions {
  key: Buffer;
  /** How long a nonce is accepted, ms (then the client gets stale=true and a fresh one). */
  lifetimeMs?: number;
  now?: () => number;
}

const PLAIN = 12;
const MAC = 16;

export class NonceService {
  private readonly key: Buffer;
  readonly lifetimeMs: number;
  private readonly now: () => number;
  /** nonce → highest nonce-count accepted; swept as nonces expire. */
  private seen = new Map<string, number>();
  private previous = new Map<string, number>();
  private rotatedAt: number;

  constructor(opts: NonceOptions) {
    this.key = opts.key;
    this.lifetimeMs = opts.lifetimeMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
    this.rotatedAt = this.now();
  }

  private mac(realm: string, plain: Buffer): Buffer {
    return createHmac("sha256", this.key).update(realm).update("\0").update(plain).digest().subarray(0, MAC);
  }

  issue(realm: string): string {
    const plain = Buffer.allocUnsafe(PLAIN);
    plain.writeUIntBE(this.now(), 0, 6);
    randomInto(plain, 6, 6);
    return Buffer.concat([plain, this.mac(realm, plain)]).toString("base64url");
  }

  check(realm: string, nonce: string): NonceCheck {
    if (nonce.length !== 38) return "invalid";
    const raw = Buffer.from(nonce, "base64url");
    if (raw.length !== PLAIN + MAC) return "invalid";
    const plain = raw.subarray(0, PLAIN);
    if (!timingSafeEqual(raw.subarray(PLAIN), this.mac(realm, plain))) return "invalid";
    const issued = plain.readUIntBE(0, 6);
    const age = this.now() - issued;
    if (age < -60_000) return "invalid"; // from the future: another node's clock is far off
    return age > this.lifetimeMs ? "stale" : "valid";
  }

  /**
   * Accepts a nonce-count once: true when `nc` is higher than every count seen with this nonce.
   * Two generations of maps, swapped every lifetime, keep memory bounded without a timer.
   */
  acceptCount(nonce: string, nc: number): boolean {
    const now = this.now();
    if (now - this.rotatedAt > this.lifetimeMs) {
      this.previous = this.seen;
      this.seen = new Map();
      this.rotatedAt = now;
    }
    const last = this.seen.get(nonce) ?? this.previous.get(nonce) ?? 0;
    if (nc <= last) return false;
    this.seen.set(nonce, nc);
    return true;
  }
}

export const newNonceKey = () => randomBytes(32);
