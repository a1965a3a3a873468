// Copies of what is kept long, so that it holds nothing else alive.
//
// V8 keeps a string cut out of another (a slice, or a concatenation of slices) as a view of the
// original: a Via branch or a Call-ID kept in a table holds the whole ~1 KB message text alive
// with it. Anything kept beyond the message's own handling is stored as a detached copy.

/** A flat copy of `s` that shares no storage with any other string. */
export const detach = (s: string): string => Buffer.from(s, "utf8").toString("utf8");

/**
 * A copy of `data` in memory of its own. Node cuts small buffers out of shared 8 KiB slabs, and
 * one kept slice keeps its whole slab: a response kept 32 s for retransmissions would otherwise
 * hold several KiB of other, long dead messages.
 */
export function ownCopy(data: Buffer): Buffer {
  const own = Buffer.allocUnsafeSlow(data.length);
  data.copy(own);
  return own;
}
