// The header fields of a message: an ordered list of (name, raw value), looked up without regard
// to case or compact form (RFC 3261 §7.3.1, §7.3.3). Values are kept as raw text; the typed
// forms (Via, From, Contact...) are parsed on demand and memoised here (see fields.ts).
import { isToken, splitList, trimWsp } from "./grammar.js";
import { headerKey, headerName, isListHeader } from "./header-names.js";

export interface SipHeader {
  /** canonical long form for a known field ("Call-ID", "WWW-Authenticate"), as received otherwise */
  readonly name: string;
  /** the value as received, unfolded and trimmed of SP/HTAB */
  readonly value: string;
}

interface Entry {
  name: string;
  key: string;
  value: string;
}

function checkValue(value: string): string {
  if (value.indexOf("\n") >= 0 || value.indexOf("\r") >= 0)
    throw new TypeError("a SIP header value cannot hold CR or LF");
  return trimWsp(value);
}

function checkName(name: string): string {
  if (!isToken(name)) throw new TypeError(`not a SIP header field name: ${JSON.stringify(name)}`);
  return name;
}

export class SipHeaders {
  private readonly list: Entry[] = [];
  private memo: Map<string, unknown> | undefined;

  constructor(init?: Iterable<SipHeader | readonly [string, string]>) {
    if (init) for (const h of init) "name" in h ? this.append(h.name, h.value) : this.append(h[0], h[1]);
  }

  /** Number of field lines. */
  get size(): number {
    return this.list.length;
  }

  /** First value of the field (any case, long or compact form), or undefined. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const e of this.list) if (e.key === key) return e.value;
    return undefined;
  }

  /**
   * Every value of the field, in order. For list fields (Via, Contact, Route, Allow, Supported...)
   * each comma-separated element is a value of its own; commas inside quotes or <...> do not split.
   */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    const list = isListHeader(key);
    for (const e of this.list) {
      if (e.key !== key) continue;
      if (list) for (const v of splitList(e.value)) out.push(v);
      else out.push(e.value);
    }
    return out;
  }

  has(name: string): boolean {
    const key = headerKey(name);
    for (const e of this.list) if (e.key === key) return true;
    return false;
  }

  /** Number of field lines with this name (a comma list on one line counts once). */
  count(name: string): number {
    const key = headerKey(name);
    let n = 0;
    for (const e of this.list) if (e.key === key) n++;
    return n;
  }

  /** Replaces every line of the field by one line holding `value`, where the first one was (else at the end). */
  set(name: string, value: string): this {
    const h = headerName(checkName(name));
    const v = checkValue(value);
    const at = this.list.findIndex((e) => e.key === h.key);
    this.removeKey(h.key);
    const entry = { name: h.name, key: h.key, value: v };
    if (at < 0) this.list.push(entry);
    else this.list.splice(at, 0, entry);
    this.memo = undefined;
    return this;
  }

  /** Adds a line at the end. */
  append(name: string, value: string): this {
    const h = headerName(checkName(name));
    this.list.push({ name: h.name, key: h.key, value: checkValue(value) });
    this.memo = undefined;
    return this;
  }

  /** Adds a line at the start (a proxy's Via, RFC 3261 §16.6 step 8). */
  prepend(name: string, value: string): this {
    const h = headerName(checkName(name));
    this.list.unshift({ name: h.name, key: h.key, value: checkValue(value) });
    this.memo = undefined;
    return this;
  }

  /** Removes every line of the field; returns how many were removed. */
  remove(name: string): number {
    const n = this.removeKey(headerKey(name));
    if (n > 0) this.memo = undefined;
    return n;
  }

  *entries(): IterableIterator<SipHeader> {
    for (const e of this.list) yield { name: e.name, value: e.value };
  }

  [Symbol.iterator](): IterableIterator<SipHeader> {
    return this.entries();
  }

  clone(): SipHeaders {
    const c = new SipHeaders();
    for (const e of this.list) c.list.push({ ...e });
    return c;
  }

  /**
   * Memoises a value derived from the fields (a parsed Via list, the From name-addr...) until
   * the next change. Used by fields.ts so that what the parser validated is not parsed again.
   */
  cached<T>(slot: string, compute: (headers: SipHeaders) => T): T {
    if (!this.memo) this.memo = new Map();
    if (this.memo.has(slot)) return this.memo.get(slot) as T;
    const v = compute(this);
    this.memo.set(slot, v);
    return v;
  }

  private removeKey(key: string): number {
    let w = 0;
    const l = this.list;
    for (let r = 0; r < l.length; r++) {
      const e = l[r] as Entry;
      if (e.key !== key) l[w++] = e;
    }
    const removed = l.length - w;
    l.length = w;
    return removed;
  }
}
