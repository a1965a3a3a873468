import { invalidArgument } from "./errors.js";

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const isUuid = (v: string) => UUID_RE.test(v);

/** Ids are UUIDs; anything else is a malformed request (400), never a lookup. Lower-cased. */
export function requireUuid(field: string, v: string): string {
  if (!isUuid(v)) throw invalidArgument(field, `must be a UUID, got "${v.slice(0, 64)}"`);
  return v.toLowerCase();
}
