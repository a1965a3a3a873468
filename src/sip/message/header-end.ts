// Where the header block ends: the first empty line (RFC 3261 §7: "the header fields are
// followed by an empty line (CRLF)"). A bare LF is tolerated as a line end, as most stacks do.
import { CR, LF } from "./grammar.js";

export type HeaderEnd =
  /** bodyStart: index of the first body byte, just after the empty line */
  | { found: true; bodyStart: number }
  /** resume: where a later search, with more bytes, should start (nothing before it can match) */
  | { found: false; resume: number };

/**
 * Scans buf from `from` (the start of a line, or a resume point) to its end. Linear in the
 * bytes scanned; a caller that resumes at `resume` never scans a byte twice (beyond 2 bytes).
 */
export function findHeaderEnd(buf: Uint8Array, from: number): HeaderEnd {
  const end = buf.length;
  let i = from;
  for (;;) {
    const lf = buf.indexOf(LF, i);
    if (lf < 0) return { found: false, resume: end };
    if (lf + 1 >= end) return { found: false, resume: lf };
    const next = buf[lf + 1];
    if (next === LF) return { found: true, bodyStart: lf + 2 };
    if (next === CR) {
      if (lf + 2 >= end) return { found: false, resume: lf };
      if (buf[lf + 2] === LF) return { found: true, bodyStart: lf + 3 };
    }
    i = lf + 1;
  }
}
