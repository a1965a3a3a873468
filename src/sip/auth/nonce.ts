// Self-validating digest nonces (RFC 7616 §3.3: "the nonce ... may contain a timestamp ... and a
// hash"): base64url(issued-at ms, 6 bytes | node id, 4 bytes | sequence, 4 bytes |
// HMAC-SHA256(key, realm | those 14 bytes) cut to 16 bytes). Any node holding the key can check a
// nonce: no shared state.
// Nonce-count replay protection (RFC 7616 §3.4: "the server ... SHOULD check ... nonce-count") is
// per node and takes constant memory: the nonces this node issued own a slot of a ring (by their
// sequence number) holding the highest count accepted, so thousands of registrations per second
// cost no per-nonce objects. A slot taken over by a newer nonce makes the older one's counts
// unknown: it is refused and the client is challenged afresh. Another node's nonces are tracked
// in a small bounded map.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../../util/time.js";

export type NonceCheck = "valid" | "stale" | "invalid";

export interface NonceOptions {
  key: Buffer;
  /** How long a nonce is accepted, ms (then the client gets stale=true and a fresh one). */
  lifetimeMs?: number;
  /** the clock nonces age on (microseconds, as every clock of sipext's); default: the system's */
  clock?: Clock;
}

const PLAIN = 14;
const MAC = 16;
const NONCE_CHARS = Math.ceil(((PLAIN + MAC) * 4) / 3);
/** 2^21 slots: at 5,000 challenges/s a slot is reused after 7 minutes, past the lifetime. */
const SLOTS = 1 << 21;
const MAX_FOREIGN = 100_000;

export class NonceService {
  private readonly key: Buffer;
  readonly lifetimeMs: number;
  private readonly clock: Clock;
  private readonly node = randomBytes(4).readUInt32BE(0);
  private seq = randomBytes(4).readUInt32BE(0);
  /** slot → the sequence number of the nonce that owns it, and its highest accepted count */
  private readonly slotSeq = new Uint32Array(SLOTS);
  private readonly slotCount = new Uint32Array(SLOTS);
  /** other nodes' nonces → highest accepted count; dropped whole when full */
  private foreign = new Map<string, number>();

  constructor(opts: NonceOptions) {
    this.key = opts.key;
    this.lifetimeMs = opts.lifetimeMs ?? 5 * 60_000;
    this.clock = opts.clock ?? (() => Date.now() * 1000);
  }

  private nowMs(): number {
    return Math.floor(this.clock() / 1000);
  }

  private mac(realm: string, plain: Buffer): Buffer {
    return createHmac("sha256", this.key).update(realm).update("\0").update(plain).digest().subarray(0, MAC);
  }

  issue(realm: string): string {
    const plain = Buffer.allocUnsafe(PLAIN);
    plain.writeUIntBE(this.nowMs(), 0, 6);
    plain.writeUInt32BE(this.node, 6);
    const seq = this.seq;
    this.seq = (this.seq + 1) >>> 0;
    plain.writeUInt32BE(seq, 10);
    const slot = seq & (SLOTS - 1);
    this.slotSeq[slot] = seq;
    this.slotCount[slot] = 0;
    return Buffer.concat([plain, this.mac(realm, plain)]).toString("base64url");
  }

  check(realm: string, nonce: string): NonceCheck {
    if (nonce.length !== NONCE_CHARS) return "invalid";
    const raw = Buffer.from(nonce, "base64url");
    if (raw.length !== PLAIN + MAC) return "invalid";
    const plain = raw.subarray(0, PLAIN);
    if (!timingSafeEqual(raw.subarray(PLAIN), this.mac(realm, plain))) return "invalid";
    const issued = plain.readUIntBE(0, 6);
    const age = this.nowMs() - issued;
    if (age < -60_000) return "invalid"; // from the future: another node's clock is far off
    return age > this.lifetimeMs ? "stale" : "valid";
  }

  /**
   * Accepts a nonce-count once: true when `nc` is higher than every count seen with this nonce.
   * Call it for a nonce that check() found valid.
   */
  acceptCount(nonce: string, nc: number): boolean {
    if (!this.accept(nonce, nc)) return false;
    this.onAccepted?.(nonce, nc);
    return true;
  }

  /**
   * Another node accepted `nc` with `nonce` (CONTRACT §15: replay protection holds
   * deployment-wide): the count is taken as used here too.
   */
  remember(nonce: string, nc: number): void {
    this.accept(nonce, nc);
  }

  /** Told of each count accepted (to tell the other nodes). */
  onAccepted: ((nonce: string, nc: number) => void) | undefined;

  private accept(nonce: string, nc: number): boolean {
    const raw = Buffer.from(nonce, "base64url");
    if (raw.length !== PLAIN + MAC || nc < 1 || nc > 0xffffffff) return false;
    if (raw.readUInt32BE(6) !== this.node) {
      const last = this.foreign.get(nonce) ?? 0;
      if (nc <= last) return false;
      if (this.foreign.size >= MAX_FOREIGN) this.foreign = new Map();
      this.foreign.set(nonce, nc);
      return true;
    }
    const seq = raw.readUInt32BE(10);
    const slot = seq & (SLOTS - 1);
    if (this.slotSeq[slot] !== seq || nc <= (this.slotCount[slot] ?? 0)) return false;
    this.slotCount[slot] = nc;
    return true;
  }
}

export const newNonceKey = () => randomBytes(32);
