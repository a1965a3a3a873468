// extension_auth_failed (CONTRACT §11): a failed digest answer for an existing extension tells
// its customer, at most once per extension and source address per minute (a guesser is banned
// after ten anyway; the events must not become a flood of their own).
import type { Stores } from "../store/ports.js";
import { type Clock, formatMicros } from "../util/time.js";

const ONCE_PER_US = 60 * 1_000_000;
/** Past this many (extension, source) pairs remembered, the memory starts over. */
const MAX_REMEMBERED = 50_000;

export function authFailedEvents(deps: {
  stores: Pick<Stores, "domains" | "extensions" | "outbox">;
  clock: Clock;
  onError(err: unknown): void;
}) {
  let told = new Map<string, number>();
  return (source: string, target: { realm: string; username: string }, method: string): void => {
    void (async () => {
      const domain = await deps.stores.domains.getByName(target.realm);
      if (!domain || target.username === "") return;
      const ext = await deps.stores.extensions.getLiveByName(domain.customer_id, target.username);
      if (!ext) return;
      const now = deps.clock();
      const key = `${ext.id}|${source}`;
      if (now - (told.get(key) ?? -ONCE_PER_US) < ONCE_PER_US) return;
      if (told.size >= MAX_REMEMBERED) told = new Map();
      told.set(key, now);
      const data = { extension_id: ext.id, extension: ext.extension, source, method };
      await deps.stores.outbox.write(
        ext.customer_id,
        { type: "extension_auth_failed", data, tmCreate: formatMicros(now) },
        async () => true,
      );
    })().catch(deps.onError);
  };
}
