// Cuts a byte stream (TCP, TLS) into SIP messages. RFC 3261 §18.3: "In the case of
// stream-oriented transports such as TCP, the Content-Length header field indicates the size
// of the body. All SIP implementations MUST use the header field for stream transports." A
// frame is the header block through its empty line plus exactly Content-Length BYTES.
// Between messages, RFC 3261 §7.5: "Implementations processing SIP messages over
// stream-oriented transports MUST ignore any CRLF appearing before the start-line", and RFC 5626
// §4.4.1: a double CRLF is a keep-alive "ping" (the caller answers a single CRLF "pong").
//
// Cost: each pushed byte is copied at most once into a buffer that grows by doubling, and
// scanned for the end of the header block once (the scan resumes where it stopped), so a
// message dribbled one byte per push costs linear time, not quadratic.
import { CR, isWsp, LF } from "./grammar.js";
import { findHeaderEnd } from "./header-end.js";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./parser.js";

export type FrameEvent =
  /**
   * one complete message, to hand to parseMessage(); it may be a view of the pushed chunk, so
   * chunks must not be reused by the caller (Node's sockets hand out a fresh Buffer each time)
   */
  | { type: "message"; data: Buffer }
  /** a CRLFCRLF keep-alive ping (RFC 5626 §4.4.1) */
  | { type: "keepalive" }
  /** the stream cannot be framed any further: close the connection */
  | { type: "error"; reason: string };

export interface FramerOptions {
  /** largest message (header block plus body) in bytes; default 65535 */
  maxSize?: number;
}

const EMPTY = Buffer.alloc(0);

const Phase = { Between: 0, Header: 1, Body: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * Finds Content-Length (or its compact form "l") in a header block decoded as latin1 (one
 * char per byte). Its value in bytes, or the reason it cannot be framed.
 */
function contentLengthOf(text: string): number | string {
  let found: string | undefined;
  let pos = text.indexOf("\n") + 1; // skip the start line
  while (pos > 0 && pos < text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    const c = text.charCodeAt(pos) | 0x20;
    if (c === 0x63 || c === 0x6c) {
      const colon = text.indexOf(":", pos);
      if (colon > 0 && colon < nl) {
        let ne = colon;
        while (ne > pos && isWsp(text.charCodeAt(ne - 1))) ne--;
        const name = text.slice(pos, ne).toLowerCase();
        if (name === "content-length" || name === "l") {
          // the value, with any folded continuation lines (RFC 3261 §7.3.1)
          let value = text.slice(colon + 1, nl);
          let next = nl + 1;
          while (next < text.length && isWsp(text.charCodeAt(next))) {
            let nl2 = text.indexOf("\n", next);
            if (nl2 < 0) nl2 = text.length;
            value += ` ${text.slice(next, nl2)}`;
            next = nl2 + 1;
          }
          const v = value.replace(/[\r\n\t ]+/g, "");
          if (found !== undefined && found !== v) return "Conflicting Content-Length headers";
          found = v;
        }
      }
    }
    pos = nl + 1;
  }
  if (found === undefined) return "Missing Content-Length header";
  if (found.length === 0 || found.length > 10) return "Malformed Content-Length header";
  for (let i = 0; i < found.length; i++) {
    const d = found.charCodeAt(i);
    if (d < 0x30 || d > 0x39) return "Malformed Content-Length header";
  }
  return Number(found);
}

export class Framer {
  private readonly maxSize: number;
  /** bytes kept between pushes: buf[start, end) */
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  private phase: Phase = Phase.Between;
  /** Header phase: bytes of the current message already scanned for its end (from its start) */
  private scanned = 0;
  /** Body phase: the current message's total length (header block plus body) */
  private total = 0;
  private failed = false;

  constructor(opts: FramerOptions = {}) {
    this.maxSize = opts.maxSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /**
   * Bytes held for a message begun but not complete; 0 between messages (a held CR or CRLF,
   * which may yet become a keep-alive, is not a message).
   */
  pending(): number {
    return this.phase === Phase.Between ? 0 : this.end - this.start;
  }

  /** Feeds bytes in; returns what they completed, in order. After an error, returns nothing. */
  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    if (this.failed || chunk.length === 0) return events;
    if (this.end === this.start) {
      // Nothing held: frame straight from the chunk (messages are handed out without a copy)
      // and keep only the unfinished tail.
      const used = this.frame(chunk, 0, events, false);
      if (!this.failed && used < chunk.length) this.keep(chunk.subarray(used));
      return events;
    }
    this.keep(chunk);
    const view = this.buf.subarray(0, this.end);
    const used = this.frame(view, this.start, events, true);
    this.start = used;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      // let a buffer grown by one large message go
      if (this.buf.length > 4 * 4096) this.buf = EMPTY;
    }
    return events;
  }

  /** Appends bytes after buf[end), compacting or growing (doubling) as needed. */
  private keep(bytes: Buffer): void {
    const held = this.end - this.start;
    const need = held + bytes.length;
    if (this.end + bytes.length > this.buf.length) {
      if (need <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = Math.max(this.buf.length * 2, 4096);
        while (size < need) size *= 2;
        const grown = Buffer.allocUnsafe(size);
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.start = 0;
      this.end = held;
    }
    bytes.copy(this.buf, this.end);
    this.end += bytes.length;
  }

  private error(events: FrameEvent[], reason: string): number {
    events.push({ type: "error", reason });
    this.failed = true;
    this.buf = EMPTY;
    this.start = 0;
    this.end = 0;
    return 0;
  }

  /**
   * Frames what it can of b[pos, b.length); returns where it stopped. `copy` says b is the
   * internal buffer, whose bytes will be overwritten: messages cut from it are copied out.
   */
  private frame(b: Buffer, pos: number, events: FrameEvent[], copy: boolean): number {
    const n = b.length;
    while (pos < n) {
      if (this.phase === Phase.Between) {
        const c = b[pos];
        if (c === LF) {
          pos++;
          continue;
        }
        if (c === CR) {
          // CRLF is skipped, CRLFCRLF is a keep-alive: wait until the bytes tell which.
          if (pos + 1 >= n) break;
          if (b[pos + 1] === LF) {
            if (pos + 2 >= n) break;
            if (b[pos + 2] === CR) {
              if (pos + 3 >= n) break;
              if (b[pos + 3] === LF) {
                events.push({ type: "keepalive" });
                pos += 4;
                continue;
              }
            }
            pos += 2;
            continue;
          }
          // a CR not followed by LF starts a (malformed) message: the parser will say so
        }
        this.phase = Phase.Header;
        this.scanned = 0;
      }
      if (this.phase === Phase.Header) {
        const he = findHeaderEnd(b, pos + this.scanned);
        if (!he.found) {
          this.scanned = he.resume - pos;
          if (n - pos > this.maxSize) return this.error(events, "Header block too large");
          break;
        }
        const headerLength = he.bodyStart - pos;
        if (headerLength > this.maxSize) return this.error(events, "Header block too large");
        const cl = contentLengthOf(b.toString("latin1", pos, he.bodyStart));
        if (typeof cl === "string") return this.error(events, cl);
        if (headerLength + cl > this.maxSize)
          return this.error(events, "Content-Length exceeds the maximum message size");
        this.total = headerLength + cl;
        this.phase = Phase.Body;
      }
      // Phase.Body
      if (n - pos < this.total) break;
      const data = copy ? Buffer.from(b.subarray(pos, pos + this.total)) : b.subarray(pos, pos + this.total);
      events.push({ type: "message", data });
      pos += this.total;
      this.phase = Phase.Between;
    }
    return pos;
  }
}
