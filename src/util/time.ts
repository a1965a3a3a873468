// Timestamps as the seed writes them: UTC "YYYY-MM-DD HH:MM:SS.ffffff" (always six digits).
// Internally a moment is a number of microseconds since the epoch (safe in a double until year 2255).
// Fixed width means the text sorts like the moment, so the database compares them as strings.

export type Micros = number;

/** Returns the current time in microseconds. Injected so tests can freeze or move time. */
export type Clock = () => Micros;

/**
 * The process clock: wall time with sub-millisecond digits from the monotonic timer, and never
 * the same value twice in one process, so items created by one node always differ in tm_create.
 */
export function systemClock(): Clock {
  let last = 0;
  return () => {
    const sub = Math.floor((performance.now() * 1000) % 1000);
    const t = Math.max(Date.now() * 1000 + sub, last + 1);
    last = t;
    return t;
  };
}

const pad = (n: number, w: number) => String(n).padStart(w, "0");

export function formatMicros(us: Micros): string {
  const ms = Math.floor(us / 1000);
  const d = new Date(ms);
  const frac = us - Math.floor(us / 1_000_000) * 1_000_000;
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(frac, 6)}`
  );
}

// Seed format, or RFC 3339 with "T", optional fraction (up to 6 digits) and "Z" or "+00:00".
const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$/;

/** Parses a timestamp in the seed format or RFC 3339; undefined when it is neither. */
export function parseTimestamp(text: string): Micros | undefined {
  const m = TS_RE.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = "", zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  const check = new Date(ms);
  // Reject 2021-02-30 and friends, which Date.UTC would roll over.
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  let us = ms * 1000 + Number(frac.padEnd(6, "0"));
  if (zone && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const [zh, zm] = zone.slice(1).split(":").map(Number);
    us -= sign * ((zh ?? 0) * 60 + (zm ?? 0)) * 60_000_000;
  }
  return us;
}

/** Nullable stored moment → API text: "" for a moment that has not happened. */
export function apiTime(stored: string | null): string {
  return stored ?? "";
}
