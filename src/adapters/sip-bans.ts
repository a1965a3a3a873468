// The SIP side's bans (src/sip/guard/bans.ts) kept in the database (CONTRACT §14): a new ban is
// written with the customer and extension its failures targeted (so that customer sees it in
// GET /v1.0/sip-bans), bans in force are loaded at start-up, and a ban lifted through the API
// lets the source in again at once.
import { randomUUID } from "node:crypto";
import { sipBanView } from "../domain/sip-bans.js";
import type { Ban, SourceBans } from "../sip/guard/bans.js";
import type { Stores } from "../store/ports.js";
import { formatMicros, parseTimestamp } from "../util/time.js";

export interface BanKeeping {
  stores: Pick<Stores, "sipBans" | "domains" | "extensions">;
  /** the API's lifted bans (Core.banLifted) */
  banLifted: Array<(source: string) => void>;
  onError(err: unknown): void;
}

/** The customer and extension a ban's failures named, when they exist. */
async function targetOf(stores: BanKeeping["stores"], ban: Ban) {
  const domain = await stores.domains.getByName(ban.target.realm);
  if (!domain) return { customerId: null, extensionId: "" };
  const ext = ban.target.username
    ? await stores.extensions.getLiveByName(domain.customer_id, ban.target.username)
    : undefined;
  return { customerId: domain.customer_id, extensionId: ext?.id ?? "" };
}

/** The bans in force at `now` (ms), from the database: at start-up, and when the bus is heard again. */
export async function loadBans(bans: SourceBans, stores: BanKeeping["stores"], now: number): Promise<void> {
  for (const row of await stores.sipBans.loadActive(formatMicros(now * 1000))) {
    bans.add(row.source, (parseTimestamp(row.tm_expire) ?? 0) / 1000);
  }
}

export async function keepBans(bans: SourceBans, k: BanKeeping, now: number): Promise<void> {
  await loadBans(bans, k.stores, now);
  bans.onBan((ban) => {
    void (async () => {
      const { customerId, extensionId } = await targetOf(k.stores, ban);
      const row = {
        id: randomUUID(),
        source: ban.source,
        customer_id: customerId,
        extension_id: extensionId,
        failures: ban.failures,
        tm_create: formatMicros(ban.createdAt * 1000),
        tm_expire: formatMicros(ban.expiresAt * 1000),
      };
      await k.stores.sipBans.insert(row, {
        type: "sip_ban_created",
        data: sipBanView(row),
        tmCreate: row.tm_create,
      });
    })().catch(k.onError);
  });
  k.banLifted.push((source) => bans.lift(source));
}
