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
  /** Told each time the bus stops hearing the others (its listening connection is lost). */
  onLost(cb: () => void): void;
  /** Told each time it hears them again (listening on a new connection): what was said meanwhile is not heard. */
  onRegained(cb: () => void): void;
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
    onRegained() {},
    close: async () => {},
  };
}

/** After its listening connection is lost, the bus listens again this long after, doubling up to the most. */
const RELISTEN_MS = 250;
const RELISTEN_MAX_MS = 5_000;

/**
 * PostgreSQL LISTEN/NOTIFY on `url` (one connection kept for listening, one for sending). A lost
 * listening connection (PostgreSQL restarted, the connection cut) is made again, every
 * `relistenMs` at first, then less often.
 */
export async function postgresBus(
  url: string,
  onError: (err: unknown) => void,
  opts: { relistenMs?: number } = {},
): Promise<DeploymentBus> {
  const nodeId = randomBytes(6).toString("hex");
  const u = new URL(url);
  u.searchParams.delete("schema");
  // Deployments sharing one database in different schemas (tests, staging) must not hear each other.
  // Lower case: LISTEN folds the name, and 009-extension-change-notify's trigger writes it so too.
  const channel =
    `${CHANNEL}_${(new URL(url).searchParams.get("schema") ?? "public").replace(/[^A-Za-z0-9_]/g, "_")}`.toLowerCase();
  const d = dispatcher(nodeId);
  const lostHandlers: Array<() => void> = [];
  const regainedHandlers: Array<() => void> = [];
  let listener: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closing = false;

  /** A new listening connection (rejects if it cannot connect or LISTEN). */
  async function listen(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: u.toString() });
    client.on("notification", (m) => {
      if (m.channel !== channel || !m.payload) return;
      try {
        d.deliver(JSON.parse(m.payload) as Wire);
      } catch (err) {
        onError(err);
      }
    });
    client.on("error", (err) => {
      onError(err);
      dropped(client);
    });
    client.on("end", () => dropped(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    return client;
  }

  /** The listening connection is gone: say so, and listen again. */
  function dropped(client: pg.Client): void {
    if (client !== listener || closing) return;
    listener = undefined;
    client.end().catch(() => {});
    for (const cb of lostHandlers) cb();
    relisten(opts.relistenMs ?? RELISTEN_MS);
  }

  function relisten(ms: number): void {
    retry = setTimeout(() => {
      listen().then(
        (client) => {
          if (closing) return void client.end().catch(() => {});
          listener = client;
          for (const cb of regainedHandlers) cb();
        },
        (err) => {
          onError(err);
          relisten(Math.min(ms * 2, RELISTEN_MAX_MS));
        },
      );
    }, ms);
    retry.unref();
  }

  listener = await listen();
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
      lostHandlers.push(cb);
      if (!listener) cb();
    },
    onRegained(cb) {
      regainedHandlers.push(cb);
    },
    async close() {
      closing = true;
      clearTimeout(retry);
      await listener?.end().catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}
