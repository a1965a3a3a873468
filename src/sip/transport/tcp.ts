// SIP over TCP (RFC 3261 §18): messages framed by Content-Length in bytes, CRLF keep-alives
// (RFC 5626 §4.4.1: a double CRLF "ping" gets a single CRLF "pong"). A connection that sends
// garbage, or dribbles one message for too long, is closed: it cannot stall the server.
import { connect, createServer, type Server, type Socket } from "node:net";
import { Framer } from "../message/framer.js";
import type { Flow, InboundHandler, TransportStats } from "./types.js";

export interface TcpOptions {
  maxMessageSize: number;
  /** a connection silent this long is closed (ms) */
  idleMs?: number;
  /** a message must be complete this long after its first byte (ms) */
  messageMs?: number;
  maxConnections?: number;
}

export interface TcpTransport {
  port: number;
  /**
   * Sends on the connection to `address:port`: the one the device opened (so a device behind
   * NAT is reached on the flow it registered over), or a new one when there is none.
   */
  send(address: string, port: number, data: Buffer): void;
  close(): Promise<void>;
}

const CRLF = Buffer.from("\r\n");
const MAX_UNSENT_BYTES = 1024 * 1024;

export async function startTcp(
  host: string,
  port: number,
  onMessage: InboundHandler,
  stats: TransportStats,
  opts: TcpOptions,
): Promise<TcpTransport> {
  const sockets = new Set<Socket>();
  const idleMs = opts.idleMs ?? 15 * 60_000;
  const messageMs = opts.messageMs ?? 30_000;

  const byPeer = new Map<string, Socket>();
  const peerKey = (address: string, port: number) => `${address}|${port}`;

  function attach(socket: Socket, address: string, port: number): void {
    sockets.add(socket);
    const key = peerKey(address, port);
    byPeer.set(key, socket);
    stats.tcpConnections++;
    socket.setNoDelay(true);
    socket.setTimeout(idleMs, () => socket.destroy());
    const framer = new Framer({ maxSize: opts.maxMessageSize });
    let partialSince = 0;
    let deadline: NodeJS.Timeout | undefined;
    const flow: Flow = {
      transport: "TCP",
      remoteAddress: address,
      remotePort: port,
      send: (data) => {
        if (socket.destroyed || !socket.writable) return;
        // A peer that sends but never reads would make its unsent answers pile up here.
        if (socket.writableLength > MAX_UNSENT_BYTES) {
          stats.garbage++;
          socket.destroy();
          return;
        }
        socket.write(data);
      },
    };
    socket.on("data", (chunk: Buffer) => {
      let completed = false;
      for (const ev of framer.push(chunk)) {
        if (ev.type === "message") {
          completed = true;
          onMessage(ev.data, flow);
        } else if (ev.type === "keepalive") flow.send(CRLF);
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
      sockets.delete(socket);
      if (byPeer.get(key) === socket) byPeer.delete(key);
      stats.tcpConnections--;
    });
  }

  const server: Server = createServer((socket) => {
    attach(socket, socket.remoteAddress ?? "", socket.remotePort ?? 0);
  });
  server.maxConnections = opts.maxConnections ?? 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    send(peerAddress, peerPort, data) {
      let socket = byPeer.get(peerKey(peerAddress, peerPort));
      if (!socket) {
        // RFC 3261 §18.2.2: with no connection left, open one to the address.
        const fresh = connect({ host: peerAddress, port: peerPort });
        attach(fresh, peerAddress, peerPort);
        socket = fresh;
      }
      if (socket.writableLength > MAX_UNSENT_BYTES) {
        socket.destroy();
        return;
      }
      socket.write(data);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
