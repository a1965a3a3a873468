// Ids that sort by creation time: UUIDv7 (RFC 9562 §5.7) — 48 bits of Unix milliseconds, the
// version, then random bits. Rows written in volume (events, call records) are keyed by them so a
// batch's index entries land on the last pages of the index instead of one random page each
// (with random v4 ids, every commit rewrote a page per row: most of a call's write cost).
import { randomUUID } from "node:crypto";

export function timeOrderedUuid(nowMs: number = Date.now()): string {
  // randomUUID's 122 random bits (from Node's cached entropy pool) supply the random part and
  // the variant; its first 48 bits become the time and its version nibble 4 becomes 7.
  const random = randomUUID();
  const time = Math.max(0, Math.floor(nowMs)).toString(16).padStart(12, "0").slice(-12);
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}
