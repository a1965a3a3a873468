// The `sipext` command (CONTRACT §16): run the server, or manage customers, users, access keys,
// extensions, registrations and SIP bans through the same services as the API, without SQL.
import cluster from "node:cluster";
import { CommanderError } from "commander";
import type { FirstRun } from "../first-run.js";
import { createLogger } from "../logger.js";
import { startServer } from "../main.js";
import { clusterScrape } from "../workers/cluster-metrics.js";
import { servePrimary } from "../workers/primary.js";
import { workerReady } from "../workers/worker.js";
import { config } from "./context.js";
import { EXIT_USAGE } from "./output.js";
import { cliProgram } from "./program.js";

function printFirstRun(f: FirstRun): void {
  // Printed once, on the start that created them; never written to the log. A password the
  // operator chose is not echoed (it would land in terminal scroll-back and captured output).
  const password = f.passwordFromEnvironment ? "(from SIPEXT_ADMIN_PASSWORD)" : f.password;
  process.stdout.write(
    [
      "",
      "sipext first run: created the first customer and its admin (shown only this once)",
      `  username:     ${f.username}`,
      `  password:     ${password}`,
      `  customer id:  ${f.customerId}`,
      `  SIP domain:   ${f.domainName}`,
      "",
    ].join("\n"),
  );
}

async function serve(): Promise<void> {
  const cfg = config();
  const logger = createLogger(cfg.logLevel, undefined, cfg.logFormat);
  // SIPEXT_WORKERS (CONTRACT §15): the primary forks the workers, which come back here.
  if (cfg.workers > 1 && cluster.isPrimary) return servePrimary(cfg, logger, printFirstRun);
  // Signals are taken from the start: one that comes while the server is still starting (its
  // "listening" line is already out) stops it once started, instead of killing it mid-start.
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let pending: string | undefined;
  let closing = false;
  const stop = async (signal: string) => {
    if (!server) {
      pending ??= signal;
      return;
    }
    if (closing) return;
    closing = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await server.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  server = await startServer(cfg, logger, undefined, {
    scrape: (metrics) => clusterScrape(metrics.registry),
  });
  workerReady();
  if (server.firstRun) printFirstRun(server.firstRun);
  if (pending) return stop(pending);
  // A renewed certificate (certbot's deploy hook: `kill -HUP`) is taken without a restart.
  const started = server;
  process.on("SIGHUP", () => {
    started.reloadTls().catch((err: unknown) => logger.error({ err }, "TLS certificate reload failed"));
  });
}

// Exit codes (CONTRACT §16): a usage error is 2; help and --version are 0; a refusal has set 1.
cliProgram(serve)
  .parseAsync()
  .catch((err: unknown) => {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    process.stderr.write(`sipext: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
