// How the nodes of one deployment tell each other what changed (CONTRACT §15): bindings added or
// gone, bans started or lifted, nonce-counts accepted. Several machines on one PostgreSQL use its
// LISTEN/NOTIFY (an engine every deployment already runs, no cluster protocol of ours), and so
// do the workers of one machine (SIPEXT_WORKERS): each is a node. A node
// never hears its own messages, and hears each other node's in the order they were sent.
// Messages are best-effort: what must not be lost is in the database (a node starting reads it
// there); a message tells of a change already written, or carries a fact that expires by itself.

import { randomBytes } from "node:crypto";
import pg from "pg";

export type BusHandler = (payload: string, from: string) => void;

export interface DeploymentBus {
  /** this node's id (a process, for the life of the process) */
  readonly nodeId: string;
  /** true when there is nobody to tell (one node): the syncing is skipped altogether */
  readonly alone: boolean;
  publish(topic: string, payload: string): void;
  subscribe(topic: string, handler: BusHandler): void;
  /** Told once if the bus stops hearing the others (its listening connection is lost). */
  onLost(cb: () => void): void;
  close(): Promise<void>;
}

interface Wire {
  /** sender */
  n: string;
  /** topic */
  t: string;
  /** payload */
  p: string;
}

const CHANNEL = "sipext";
/** PostgreSQL's NOTIFY payload limit is 8000 bytes; longer messages are not sent (and logged). */
const MAX_PAYLOAD = 7_800;

function dispatcher(nodeId: string) {
  const handlers = new Map<string, BusHandler[]>();
  return {
    subscribe(topic: string, h: BusHandler) {
      handlers.set(topic, [...(handlers.get(topic) ?? []), h]);
    },
    deliver(w: Wire) {
      if (w.n === nodeId) return;
      for (const h of handlers.get(w.t) ?? []) h(w.p, w.n);
    },
  };
}

/** Nodes alone (embedded SQLite, one process): nothing to tell. */
export function soloBus(): DeploymentBus {
  return {
    nodeId: randomBytes(6).toString("hex"),
    alone: true,
    publish() {},
    subscribe() {},
    onLost() {},
    close: async () => {},
  };
}

/**
 * PostgreSQL LISTEN/NOTIFY on `url` (one connection kept for listening, one for sending).
 */
export async function postgresBus(url: string, onError: (err: unknown) => void): Promise<DeploymentBus> {
  const nodeId = randomBytes(6).toString("hex");
  const u = new URL(url);
  u.searchParams.delete("schema");
  // Deployments sharing one database in different schemas (tests, staging) must not hear each other.
  // Lower case: LISTEN folds the name, and 009-extension-change-notify's trigger writes it so too.
  const channel =
    `${CHANNEL}_${(new URL(url).searchParams.get("schema") ?? "public").replace(/[^A-Za-z0-9_]/g, "_")}`.toLowerCase();
  const d = dispatcher(nodeId);
  const listener = new pg.Client({ connectionString: u.toString() });
  const lostHandlers: Array<() => void> = [];
  let lost = false;
  const loseOnce = () => {
    if (lost) return;
    lost = true;
    for (const cb of lostHandlers) cb();
  };
  let closing = false;
  listener.on("error", (err) => {
    onError(err);
    loseOnce();
  });
  listener.on("end", () => closing || loseOnce());
  await listener.connect();
  await listener.query(`LISTEN ${channel}`);
  listener.on("notification", (m) => {
    if (m.channel !== channel || !m.payload) return;
    try {
      d.deliver(JSON.parse(m.payload) as Wire);
    } catch (err) {
      onError(err);
    }
  });
  // One connection: NOTIFYs sent in order are delivered in order (changes of one binding must not
  // overtake each other).
  const pool = new pg.Pool({ connectionString: u.toString(), max: 1 });
  pool.on("error", onError);
  return {
    nodeId,
    alone: false,
    publish(topic, payload) {
      // Writes flushed while stopping may still say so: nobody is left to tell once closed.
      if (closing) return;
      const text = JSON.stringify({ n: nodeId, t: topic, p: payload } satisfies Wire);
      if (text.length > MAX_PAYLOAD)
        return onError(new Error(`bus message on ${topic} too long (${text.length})`));
      pool.query("SELECT pg_notify($1, $2)", [channel, text]).catch(onError);
    },
    subscribe: d.subscribe,
    onLost(cb) {
      if (lost) cb();
      else lostHandlers.push(cb);
    },
    async close() {
      closing = true;
      await listener.end().catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}
