// SQLite's WAL checkpoints on a thread of their own. By default the connection that commits past
// 1,000 WAL pages copies them back into the database file and fsyncs it, inside that commit: on
// the server that is the event loop, which then answers no SIP for as long as the disk takes
// (bench:calls saw UDP drops at 63 % of a core). The server's connection turns automatic
// checkpoints off and this worker, with a connection of its own, runs PASSIVE checkpoints
// (https://sqlite.org/pragma.html#pragma_wal_checkpoint: they never wait for readers or writers)
// every CHECKPOINT_MS and once more when stopped.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

const CHECKPOINT_MS = 250;

// CommonJS, evaluated by the worker: the driver is required by its absolute path (the worker has
// no module of its own to resolve from).
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 5000");
const checkpoint = () => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on("message", () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.postMessage("stopped");
  parentPort.close();
});
`;

export interface Checkpointer {
  /** A last checkpoint, then the worker's connection closed. */
  stop(): Promise<void>;
}

/** `onFailed`: the worker could not run (the caller turns SQLite's own checkpoints back on). */
export function startCheckpointer(path: string, onFailed: (err: unknown) => void): Checkpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER, { eval: true, workerData: { path, driver, everyMs: CHECKPOINT_MS } });
  worker.on("error", onFailed);
  worker.unref();
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        worker.once("message", () => resolve());
        worker.once("exit", () => resolve());
        worker.postMessage("stop");
      });
      return stopped;
    },
  };
}
