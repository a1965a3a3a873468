// SIPEXT_WORKERS (CONTRACT §15): several processes of one machine serve one deployment. The
// primary process serves nothing itself: it prepares the database, forks the workers, tells each
// the others' own UDP ports, starts again a worker that died, and passes signals on. The workers
// share the HTTP, SIP TCP/TLS and SIP UDP ports through Node's cluster module (the primary
// accepts connections and deals them out; a UDP datagram goes to whichever worker reads it, and
// src/sip/transport/udp-affinity.ts hands it to the worker its Call-ID belongs to). Each worker is
// a node of the deployment like a node on another machine: its state is shared through
// PostgreSQL (config.ts refuses workers on SQLite).
import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { bootstrap, type FirstRun } from "../first-run.js";
import { openCore } from "../main.js";
import { aggregateWorkerMetrics } from "./cluster-metrics.js";
import { OWN_PORT, READY, SIBLINGS, type WorkerMessage } from "./messages.js";

/** A worker that died is started again after this long (longer if it keeps dying). */
const RESTART_MS = 1_000;
const MAX_RESTART_MS = 30_000;
/** A stop waits this long for the workers, then kills them. */
const STOP_DEADLINE_MS = 9_000;

export interface WorkerPool {
  /** the first customer and admin, when this start created them (after every worker was ready) */
  firstRun: FirstRun | undefined;
  stop(signal: NodeJS.Signals): Promise<void>;
  /** passes a signal (SIGHUP: certificates) on to every worker */
  signal(signal: NodeJS.Signals): void;
}

/**
 * In the primary: forks `config.workers` workers and resolves once all are serving. A worker
 * that fails before it ever served fails the start (a port in use, a bad certificate): the
 * others are stopped and the error says which.
 */
export async function startWorkers(config: Config, logger: Logger): Promise<WorkerPool> {
  // Migrations and the key files once, before any worker: they would race for them.
  const prepared = await openCore(config, undefined, logger);
  await prepared.close();
  const secret = randomBytes(16).toString("hex");
  // GET /metrics on any worker answers for all of them (CONTRACT §12).
  aggregateWorkerMetrics();
  const ports: Array<number | null> = new Array(config.workers).fill(null);
  const slotOf = new Map<Worker, number>();
  let stopping = false;
  const broadcast = () => {
    if (stopping) return;
    // A sibling may be exiting too: its channel closes under the send (EPIPE). That is no error
    // of the primary's, and without the callback it would be thrown and end the primary.
    for (const w of slotOf.keys())
      if (w.isConnected()) w.send({ kind: SIBLINGS, ports }, undefined, () => {});
  };
  const started = new Promise<void>((resolve, reject) => {
    let ready = 0;
    const fork = (slot: number, delay: number) => {
      const w = cluster.fork({
        SIPEXT_WORKER_SLOT: String(slot),
        SIPEXT_WORKER_COUNT: String(config.workers),
        SIPEXT_WORKER_SECRET: secret,
      });
      slotOf.set(w, slot);
      w.on("error", (err) => logger.warn({ err, worker: slot }, "worker channel"));
      let served = false;
      w.on("message", (m: WorkerMessage) => {
        if (m?.kind === OWN_PORT && typeof m.port === "number") {
          ports[slot] = m.port;
          broadcast();
        } else if (m?.kind === READY && !served) {
          served = true;
          logger.info({ worker: slot, pid: w.process.pid }, "worker serving");
          if (++ready === config.workers) resolve();
        }
      });
      w.on("exit", (code, signal) => {
        slotOf.delete(w);
        ports[slot] = null;
        broadcast();
        if (stopping) return;
        if (ready < config.workers && !served)
          return reject(new Error(`worker ${slot} exited before serving (code ${code ?? signal})`));
        // Its datagrams are handled where they land meanwhile (no sibling port): calls it held go.
        const next = served ? RESTART_MS : Math.min(delay * 2, MAX_RESTART_MS);
        logger.error({ worker: slot, code, signal, restartInMs: next }, "worker died: starting it again");
        setTimeout(() => !stopping && fork(slot, next), next).unref();
      });
    };
    for (let slot = 0; slot < config.workers; slot++) fork(slot, RESTART_MS);
  });

  const stop = async (signal: NodeJS.Signals) => {
    stopping = true;
    const exits = [...slotOf.keys()].map(
      (w) => new Promise<void>((r) => (w.isDead() ? r() : w.once("exit", () => r()))),
    );
    for (const w of slotOf.keys()) w.process.kill(signal);
    const deadline = setTimeout(() => {
      for (const w of slotOf.keys()) w.process.kill("SIGKILL");
    }, STOP_DEADLINE_MS);
    await Promise.all(exits);
    clearTimeout(deadline);
  };

  try {
    await started;
  } catch (err) {
    await stop("SIGTERM");
    throw err;
  }
  // Only now that every worker serves (CONTRACT §14: a start that failed creates nothing).
  const core = await openCore(config, undefined, logger);
  const firstRun = await bootstrap(core, config).finally(() => core.close());
  return {
    firstRun,
    stop,
    signal: (s) => {
      for (const w of slotOf.keys()) w.process.kill(s);
    },
  };
}

/**
 * `sipext serve` with SIPEXT_WORKERS > 1, in the primary: the workers serve; SIGTERM/SIGINT stop
 * them (each finishes its requests and writes its bindings), SIGHUP reaches each (certificates).
 */
export async function servePrimary(
  config: Config,
  logger: Logger,
  printFirstRun: (f: FirstRun) => void,
): Promise<void> {
  let pool: WorkerPool | undefined;
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down the workers");
    await pool?.stop(signal);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGHUP", () => pool?.signal("SIGHUP"));
  try {
    pool = await startWorkers(config, logger);
  } catch (err) {
    logger.error({ err }, "the workers did not start");
    process.exit(1);
  }
  logger.info({ workers: config.workers }, `sipext serving with ${config.workers} workers`);
  if (pool.firstRun) printFirstRun(pool.firstRun);
}
