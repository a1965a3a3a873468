// Edits made in a message's own bytes, for what a proxy does to every message it relays: no
// header list to copy, no text to build and encode again (RFC 3261 §16.7 step 3: "The proxy
// removes the topmost Via header field value from the response"). Each edit handles the plain
// layout almost every element sends and returns undefined for anything else (a folded line),
// so the caller takes the structured way then.
import { CR, DQUOTE, isWsp, LF } from "./grammar.js";

const COMMA = 0x2c;
const COLON = 0x3a;
const BACKSLASH = 0x5c;

const lower = (c: number | undefined) => (c !== undefined && c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
/** Whitespace at `i`; false past the end (a line may be the message's last). */
const wspAt = (raw: Uint8Array, i: number) => isWsp(raw[i] ?? 0);

/** Is the header line starting at `at` a Via (long or compact form)? Returns its colon, or -1. */
function viaColon(raw: Uint8Array, at: number, end: number): number {
  let i = at;
  if (lower(raw[i]) !== 0x76) return -1; // v
  i++;
  if (lower(raw[i]) === 0x69 && lower(raw[i + 1]) === 0x61) i += 2; // ia
  while (i < end && wspAt(raw, i)) i++;
  return raw[i] === COLON ? i : -1;
}

/** The first comma of a header value outside quoted strings, or -1. */
function topLevelComma(raw: Uint8Array, from: number, end: number): number {
  let quoted = false;
  for (let i = from; i < end; i++) {
    const c = raw[i];
    if (quoted) {
      if (c === BACKSLASH) i++;
      else if (c === DQUOTE) quoted = false;
    } else if (c === DQUOTE) quoted = true;
    else if (c === COMMA) return i;
  }
  return -1;
}

/**
 * `raw` (one whole message, nothing before its start line) without its first Via value: the
 * Via line removed, or only its first value when the line holds a list. Undefined when the
 * message has no Via or its first Via line is folded.
 */
export function removeTopVia(raw: Buffer): Buffer | undefined {
  let line = raw.indexOf(LF) + 1; // past the start line
  if (line === 0) return undefined;
  for (;;) {
    const lf = raw.indexOf(LF, line);
    if (lf < 0) return undefined;
    const contentEnd = raw[lf - 1] === CR ? lf - 1 : lf;
    if (contentEnd <= line) return undefined; // the empty line: no Via at all
    const colon = viaColon(raw, line, contentEnd);
    if (colon >= 0) {
      if (wspAt(raw, lf + 1)) return undefined; // folded onto the next line
      let value = colon + 1;
      while (value < contentEnd && wspAt(raw, value)) value++;
      const comma = topLevelComma(raw, value, contentEnd);
      if (comma < 0) return Buffer.concat([raw.subarray(0, line), raw.subarray(lf + 1)]);
      let next = comma + 1;
      while (next < contentEnd && wspAt(raw, next)) next++;
      if (next === contentEnd) return undefined; // a list ending in a comma
      return Buffer.concat([raw.subarray(0, value), raw.subarray(next)]);
    }
    line = lf + 1;
  }
}
