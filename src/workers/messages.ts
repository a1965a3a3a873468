// The messages between the primary and its workers (SIPEXT_WORKERS, src/workers/primary.ts).

/** worker → primary: the port of its own UDP socket */
export const OWN_PORT = "sipext-udp-port";
/** primary → workers: every worker's own UDP port by slot (null: not known, or down) */
export const SIBLINGS = "sipext-udp-siblings";
/** worker → primary: every listener is bound */
export const READY = "sipext-ready";

export interface WorkerMessage {
  kind?: string;
  port?: number;
  ports?: Array<number | null>;
}
