// SIP over a byte stream: TCP and TLS (RFC 3261 §18, §26.2): messages framed by Content-Length
// in bytes, CRLF keep-alives (RFC 5626 §4.4.1: a double CRLF "ping" gets a single CRLF "pong").
// A connection that sends garbage, or dribbles one message for too long, is closed: it cannot
// stall the server.
import { connect, createServer, type Server, type Socket } from "node:net";
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type Server as TlsServer,
} from "node:tls";
import { Framer } from "../message/framer.js";
import type { Connections } from "./connections.js";
import { countSent } from "./counting.js";
import type { Flow, InboundHandler, TransportStats } from "./flow.js";

export interface StreamOptions {
  maxMessageSize: number;
  /** a connection without a binding silent this long is closed (ms; CONTRACT §14: 120 s) */
  idleMs?: number;
  /** a connection a phone registered over, silent this long, is closed (ms) */
  boundIdleMs?: number;
  /** a connection must bring a complete message this soon after it opened (ms; §14: 10 s) */
  firstMessageMs?: number;
  /** a message must be complete this long after its first byte (ms) */
  messageMs?: number;
  maxConnections?: number;
}

export const STREAM_DEFAULTS = {
  idleMs: 120_000,
  boundIdleMs: 15 * 60_000,
  firstMessageMs: 10_000,
  messageMs: 30_000,
} as const;

export interface StreamTransport {
  port: number;
  /**
   * Sends on the connection to `address:port`: the one the device opened (so a device behind
   * NAT is reached on the flow it registered over), or, over TCP, a new one when there is none
   * (§18.2.2). Over TLS a connection is never opened towards a phone: it would have to prove
   * who it is, and phones keep theirs open (RFC 5626); without one, the request is not sent.
   */
  send(address: string, port: number, data: Buffer): void;
  /** the server socket is bound and not closed (CONTRACT §12's readiness) */
  listening(): boolean;
  close(): Promise<void>;
}

export interface TlsTransport extends StreamTransport {
  /** A renewed certificate for new connections (SIGHUP), without a restart. */
  setSecureContext(options: SecureContextOptions): void;
}

const CRLF = Buffer.from("\r\n");
const MAX_UNSENT_BYTES = 1024 * 1024;
/** A TLS client has this long to complete its handshake. */
const HANDSHAKE_MS = 10_000;

interface Ctx {
  transport: "TCP" | "TLS";
  onMessage: InboundHandler;
  stats: TransportStats;
  connections: Connections;
  opts: StreamOptions;
  sockets: Set<Socket>;
}

/** Serves one connection: frames what it reads into messages, answers keep-alives, guards it. */
function attach(ctx: Ctx, socket: Socket, address: string, port: number): void {
  const { stats, opts } = ctx;
  ctx.sockets.add(socket);
  stats.tcpConnections++;
  socket.setNoDelay(true);
  const idleMs = opts.idleMs ?? STREAM_DEFAULTS.idleMs;
  socket.setTimeout(idleMs, () => socket.destroy());
  // A connection that never says anything complete (a scanner, a half-open flood) goes.
  let firstMessage: NodeJS.Timeout | undefined = setTimeout(() => {
    stats.garbage++;
    socket.destroy();
  }, opts.firstMessageMs ?? STREAM_DEFAULTS.firstMessageMs);
  firstMessage.unref();
  let bound = false;
  const framer = new Framer({ maxSize: opts.maxMessageSize });
  const messageMs = opts.messageMs ?? STREAM_DEFAULTS.messageMs;
  let partialSince = 0;
  let deadline: NodeJS.Timeout | undefined;
  const send = (data: Buffer) => {
    if (socket.destroyed || !socket.writable) return;
    // A peer that sends but never reads would make its unsent answers pile up here.
    if (socket.writableLength > MAX_UNSENT_BYTES) {
      stats.garbage++;
      socket.destroy();
      return;
    }
    countSent(stats, data);
    socket.write(data);
  };
  const forget = ctx.connections.add(ctx.transport, address, port, { send, close: () => socket.destroy() });
  const flow: Flow = { transport: ctx.transport, remoteAddress: address, remotePort: port, send };
  socket.on("data", (chunk: Buffer) => {
    let completed = false;
    for (const ev of framer.push(chunk)) {
      if (ev.type === "message") {
        completed = true;
        clearTimeout(firstMessage);
        firstMessage = undefined;
        ctx.onMessage(ev.data, flow);
        if (flow.bound && !bound) {
          // A phone registered over it: kept while it lives (keep-alives or traffic).
          bound = true;
          socket.setTimeout(opts.boundIdleMs ?? STREAM_DEFAULTS.boundIdleMs);
        }
      } else if (ev.type === "keepalive") send(CRLF);
      else {
        stats.garbage++;
        socket.destroy();
        return;
      }
    }
    // Slow-drip guard: a started message must finish within messageMs. When this chunk
    // completed a message, what is pending is a new message begun in it: its clock starts now
    // (a pipelined stream rarely ends a segment on a message boundary).
    if (framer.pending() > 0) {
      if (partialSince !== 0 && completed) {
        partialSince = Date.now();
        deadline?.refresh();
      } else if (partialSince === 0) {
        partialSince = Date.now();
        deadline = setTimeout(() => {
          stats.garbage++;
          socket.destroy();
        }, messageMs);
        deadline.unref();
      }
    } else if (partialSince !== 0) {
      partialSince = 0;
      clearTimeout(deadline);
    }
  });
  socket.on("error", () => socket.destroy());
  socket.on("close", () => {
    clearTimeout(deadline);
    clearTimeout(firstMessage);
    ctx.sockets.delete(socket);
    forget();
    stats.tcpConnections--;
  });
}

/** A banned source, or one with too many connections, is closed at once, unanswered (§14). */
function admitted(ctx: Ctx, socket: Socket): boolean {
  if (ctx.connections.admits(socket.remoteAddress ?? "")) return true;
  ctx.stats.refused++;
  socket.destroy();
  return false;
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === "object" && address ? address.port : port;
}

function transportOf(ctx: Ctx, server: Server, port: number): StreamTransport {
  return {
    port,
    send(address, peerPort, data) {
      const open = ctx.connections.get({ transport: ctx.transport, address, port: peerPort });
      if (open) return open.send(data);
      if (ctx.transport !== "TCP") return;
      // RFC 3261 §18.2.2: with no connection left, open one to the address.
      const fresh = connect({ host: address, port: peerPort });
      attach(ctx, fresh, address, peerPort);
      fresh.write(data);
    },
    listening: () => server.listening,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of ctx.sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function startTcp(
  host: string,
  port: number,
  onMessage: InboundHandler,
  stats: TransportStats,
  connections: Connections,
  opts: StreamOptions,
): Promise<StreamTransport> {
  const ctx: Ctx = { transport: "TCP", onMessage, stats, connections, opts, sockets: new Set() };
  const server = createServer((socket) => {
    if (!admitted(ctx, socket)) return;
    attach(ctx, socket, socket.remoteAddress ?? "", socket.remotePort ?? 0);
  });
  server.maxConnections = opts.maxConnections ?? 10_000;
  return transportOf(ctx, server, await listen(server, host, port));
}

/** SIP over TLS (RFC 3261 §26.2.1; `sips:` and `;transport=tls` phones), on its own port. */
export async function startTls(
  host: string,
  port: number,
  secure: SecureContextOptions,
  onMessage: InboundHandler,
  stats: TransportStats,
  connections: Connections,
  opts: StreamOptions,
): Promise<TlsTransport> {
  const ctx: Ctx = { transport: "TLS", onMessage, stats, connections, opts, sockets: new Set() };
  const server: TlsServer = createTlsServer({ ...secure, handshakeTimeout: HANDSHAKE_MS }, (socket) =>
    attach(ctx, socket, socket.remoteAddress ?? "", socket.remotePort ?? 0),
  );
  // Refused before the handshake costs anything; a failed handshake (a scanner, a client that
  // does not trust us) is the client's business.
  server.on("connection", (socket: Socket) => admitted(ctx, socket));
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  server.maxConnections = opts.maxConnections ?? 10_000;
  const t = transportOf(ctx, server, await listen(server, host, port));
  return { ...t, setSecureContext: (options) => server.setSecureContext(options) };
}
