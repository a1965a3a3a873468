// A worker's side of SIPEXT_WORKERS (src/workers/primary.ts): its slot and its siblings' ports.
import cluster from "node:cluster";
import type { UdpAffinity } from "../sip/transport/udp-affinity.js";
import { OWN_PORT, READY, SIBLINGS, type WorkerMessage } from "./messages.js";

/** In a worker: what its UDP transport needs of its siblings; undefined outside a cluster. */
export function workerAffinity(): UdpAffinity | undefined {
  if (!cluster.isWorker) return undefined;
  const slot = Number(process.env.SIPEXT_WORKER_SLOT);
  const slots = Number(process.env.SIPEXT_WORKER_COUNT);
  const secret = Buffer.from(process.env.SIPEXT_WORKER_SECRET ?? "", "hex");
  if (!(slots > 1 && slot >= 0 && slot < slots && secret.length === 16)) return undefined;
  let ports: Array<number | null> = [];
  process.on("message", (m: WorkerMessage) => {
    if (m?.kind === SIBLINGS && m.ports) ports = m.ports;
  });
  return {
    slot,
    slots,
    secret,
    siblingPort: (i) => ports[i] ?? undefined,
    bound: (port) => process.send?.({ kind: OWN_PORT, port }),
  };
}

/** In a worker: tells the primary that every listener is bound. */
export function workerReady(): void {
  if (cluster.isWorker) process.send?.({ kind: READY });
}
