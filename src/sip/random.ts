// Random values for tags and nonces, drawn from the CSPRNG (crypto.randomFillSync) a block at a
// time: one call per 4 KiB instead of one per value. Each randomBytes() call costs a few
// microseconds, and the registrar needs three per registration (two To tags and a nonce); every
// byte of the block is handed out once.
import { randomFillSync } from "node:crypto";

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

function take(n: number): number {
  if (n > POOL_SIZE) throw new RangeError(`at most ${POOL_SIZE} random bytes at a time`);
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return at;
}

/** `bytes` random bytes in lower-case hex, as randomBytes(bytes).toString("hex"). */
export function randomHex(bytes: number): string {
  const at = take(bytes);
  return pool.toString("hex", at, at + bytes);
}

/** Writes `length` random bytes into target at `start`. */
export function randomInto(target: Buffer, start: number, length: number): void {
  const at = take(length);
  pool.copy(target, start, at, at + length);
}

/** `bytes` random bytes in base64url, as randomBytes(bytes).toString("base64url"). */
export function randomBase64url(bytes: number): string {
  const at = take(bytes);
  return pool.toString("base64url", at, at + bytes);
}
