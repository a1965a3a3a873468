// Tags and branch ids (RFC 3261 §19.3: "tags ... MUST be globally unique and cryptographically
// random with at least 32 bits of randomness"; §8.1.1.7: a branch "MUST always begin with the
// characters z9hG4bK"), drawn from the CSPRNG (crypto.randomFillSync) a block at a time: one
// call per 4 KiB instead of one per value. Each randomBytes() call costs a few microseconds, and
// the registrar needs three per registration (two To tags and a nonce); every byte of the block
// is handed out once.
import { hash, randomFillSync } from "node:crypto";

/** RFC 3261 §8.1.1.7: the prefix of every branch made by an RFC 3261 element. */
export const MAGIC_COOKIE = "z9hG4bK";
/** What starts every branch this proxy makes: responses carrying it are ours (§17.1.3). */
export const OUR_BRANCH_PREFIX = `${MAGIC_COOKIE}-sx`;

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

/** `bytes` random bytes in base64url, as randomBytes(bytes).toString("base64url"). */
export function randomBase64url(bytes: number): string {
  const at = take(bytes);
  return pool.toString("base64url", at, at + bytes);
}

/** A To tag for a response of ours (48 bits). */
export const newTag = (): string => randomHex(6);

/** A branch for a request this proxy sends (72 random bits). */
export const newBranch = (): string => `${OUR_BRANCH_PREFIX}${randomBase64url(9)}`;

/**
 * The To tag of a stateless answer, derived from the request's transaction key: a retransmitted
 * request gets byte for byte the same answer (as Kamailio's sl module makes it), so a client
 * sees a retransmission, not a second answer. The key holds the client's random branch, so the
 * tag is as unique as a random one (§19.3 asks uniqueness, not secrecy, of a To tag).
 */
export const tagFor = (transactionKey: string): string => hash("sha1", transactionKey, "hex").slice(0, 12);
