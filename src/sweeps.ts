// What a node sweeps from time to time: expired bindings and bans, and what is kept only a week
// (events, webhook delivery attempts, ended provisioning links — CONTRACT §11, §17).
import type { Logger } from "pino";
import type { Core } from "./main.js";
import { formatMicros } from "./util/time.js";

const SWEEP_MS = 30_000;
const EVENTS_KEPT_US = 7 * 86_400 * 1_000_000;

/** Starts the sweeps every 30 s; the timer does not keep the process alive. */
export function startSweeps(core: Core, logger: Logger): NodeJS.Timeout {
  const timer = setInterval(() => {
    core.location.sweep().catch((err: unknown) => logger.warn({ err }, "binding sweep failed"));
    const now = formatMicros(core.clock());
    core.stores.sipBans.deleteExpired(now).catch((err: unknown) => logger.warn({ err }, "ban sweep failed"));
    // Events are kept 7 days (CONTRACT §11).
    core.stores.events
      .deleteBefore(formatMicros(core.clock() - EVENTS_KEPT_US))
      .catch((err: unknown) => logger.warn({ err }, "event sweep failed"));
    // Provisioning links that ended a week ago (CONTRACT §17): nothing left to look up.
    core.stores.provisioning
      .deleteEndedBefore(formatMicros(core.clock() - EVENTS_KEPT_US))
      .catch((err: unknown) => logger.warn({ err }, "provisioning link sweep failed"));
    // Webhook delivery attempts too (CONTRACT §11).
    core.webhooks.store
      .deleteDeliveriesBefore(formatMicros(core.clock() - EVENTS_KEPT_US))
      .catch((err: unknown) => logger.warn({ err }, "webhook delivery sweep failed"));
  }, SWEEP_MS);
  timer.unref();
  return timer;
}
