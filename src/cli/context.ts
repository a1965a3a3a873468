// What every one-shot `sipext` command shares (CONTRACT §16): the configured database opened
// through openCore (the same services as the API), a principal inside one customer, and one place
// that turns a refusal into its line on stderr and its exit code.

import { syncLocation } from "../adapters/deployment-sync.js";
import { type Config, ConfigError, loadConfig } from "../config.js";
import { postgresBus } from "../deployment-bus.js";
import { requireUuid } from "../domain/ids.js";
import type { Principal } from "../domain/principal.js";
import { type Core, openCore } from "../main.js";
import { EXIT_USAGE, refuse } from "./output.js";

export function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sipext: invalid configuration: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
    throw err;
  }
}

export interface CoreOptions {
  /**
   * Removals of registrations and lifted bans made here must reach the running nodes: on
   * PostgreSQL they are told over the deployment bus, as one node tells the others (CONTRACT §15).
   */
  bus?: boolean;
}

/** Runs `work` on the configured database; a refusal prints one line and exits 1. */
export async function withCore(work: (core: Core) => Promise<void>, opts: CoreOptions = {}): Promise<void> {
  const cfg = config();
  const core = await openCore(cfg);
  const onError = (err: unknown) => process.stderr.write(`sipext: deployment bus: ${String(err)}\n`);
  const bus = opts.bus && cfg.databaseUrl ? await postgresBus(cfg.databaseUrl, onError) : undefined;
  if (bus) {
    syncLocation(bus, core.location, core.locationStore, onError);
    core.banLifted.push((source) => bus.publish("unban", source));
  }
  try {
    await work(core);
  } catch (err) {
    refuse(err);
  } finally {
    // Writes the queued binding removals (and so publishes them) before the bus closes.
    await core.close();
    await bus?.close();
  }
}

/**
 * The CLI acts as an admin of the customer it names: whoever can run it already holds the
 * database. The customer must exist (a missing one is refused like the API's 404).
 */
export async function customerAdmin(core: Core, customerId: string): Promise<Principal> {
  const p: Principal = {
    kind: "user",
    id: "sipext-cli",
    customerId: requireUuid("customer_id", customerId),
    role: "admin",
  };
  await core.services.tenants.customer(p);
  return p;
}

/** `--page-size` and `--page-token`, as the API's list query. */
export interface PageOptions {
  pageSize?: string;
  pageToken?: string;
}

export const pageQuery = (o: PageOptions) => ({ page_size: o.pageSize, page_token: o.pageToken });
