// SIP over WebSocket (RFC 7118): browser softphones (SIP.js, JsSIP) reach sipext over a
// WebSocket at /sip with the "sip" subprotocol, on the HTTP port (WS) or the HTTPS port (WSS).
// The HTTP side hands the upgrade request here; from then on each WebSocket message is one SIP
// message (§5: "each SIP message MUST be carried within a single WebSocket message"), and a
// request for a browser goes back over the connection it registered over (its Contact's
// `<random>.invalid` host cannot be reached otherwise, §5.2).
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { Connections } from "./connections.js";
import { countSent } from "./counting.js";
import type { Flow, InboundHandler, TransportStats } from "./flow.js";
import { STREAM_DEFAULTS, type StreamOptions } from "./stream.js";

/** RFC 7118 §4.1: the WebSocket subprotocol of SIP. */
export const SIP_SUBPROTOCOL = "sip";
const CRLF = Buffer.from("\r\n");
const DOUBLE_CRLF = "\r\n\r\n";
const MAX_UNSENT_BYTES = 1024 * 1024;

export type WsOptions = Pick<StreamOptions, "maxMessageSize" | "idleMs" | "boundIdleMs" | "firstMessageMs">;

export interface WsTransport {
  /**
   * Takes an HTTP upgrade request for the SIP WebSocket. One without the "sip" subprotocol is
   * refused with 400 (RFC 7118 §4.1: the server must answer with "sip" in its handshake).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, secure: boolean): void;
  close(): void;
}

/** True when the request offers the "sip" subprotocol (a comma list, RFC 6455 §4.1). */
function offersSip(req: IncomingMessage): boolean {
  const offered = req.headers["sec-websocket-protocol"] ?? "";
  return offered.split(",").some((p) => p.trim().toLowerCase() === SIP_SUBPROTOCOL);
}

function refuse(socket: Duplex, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function startWs(
  onMessage: InboundHandler,
  stats: TransportStats,
  connections: Connections,
  opts: WsOptions,
): WsTransport {
  const server = new WebSocketServer({
    noServer: true,
    // A message beyond the SIP size limit closes the connection (1009) instead of buffering it.
    maxPayload: opts.maxMessageSize,
    handleProtocols: (protocols) => (protocols.has(SIP_SUBPROTOCOL) ? SIP_SUBPROTOCOL : false),
    perMessageDeflate: false,
  });
  const idleMs = opts.idleMs ?? STREAM_DEFAULTS.idleMs;
  const boundIdleMs = opts.boundIdleMs ?? STREAM_DEFAULTS.boundIdleMs;

  function serve(ws: WebSocket, req: IncomingMessage, secure: boolean): void {
    const transport = secure ? "WSS" : "WS";
    const address = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    const port = req.socket.remotePort ?? 0;
    stats.tcpConnections++;
    const send = (data: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_UNSENT_BYTES) {
        stats.garbage++;
        ws.terminate();
        return;
      }
      // Text frames (§5: SIP is UTF-8 text; browsers' libraries read text frames first).
      countSent(stats, data);
      ws.send(data, { binary: false });
    };
    const forget = connections.add(transport, address, port, { send, close: () => ws.terminate() });
    const flow: Flow = { transport, remoteAddress: address, remotePort: port, send };
    // §14: a connection with no message within firstMessageMs, or idle without a binding, goes.
    let idle = setTimeout(() => ws.terminate(), opts.firstMessageMs ?? STREAM_DEFAULTS.firstMessageMs);
    idle.unref();
    let idleFor = idleMs;
    ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      // A CRLF keep-alive (RFC 5626 §4.4.1, as SIP.js sends one over WebSocket too) gets its pong.
      if (bytes.length === 4 && bytes.toString("latin1") === DOUBLE_CRLF) {
        idle.refresh();
        return send(CRLF);
      }
      onMessage(bytes, flow);
      if (flow.bound) idleFor = boundIdleMs;
      clearTimeout(idle);
      idle = setTimeout(() => ws.terminate(), idleFor);
      idle.unref();
    });
    ws.on("error", () => ws.terminate());
    ws.on("close", () => {
      clearTimeout(idle);
      forget();
      stats.tcpConnections--;
    });
  }

  return {
    handleUpgrade(req, socket, head, secure) {
      // A banned source, or one with too many connections, is closed unanswered (§14).
      if (!connections.admits((req.socket.remoteAddress ?? "").replace(/^::ffff:/, ""))) {
        stats.refused++;
        socket.destroy();
        return;
      }
      if (!offersSip(req)) {
        refuse(
          socket,
          'the SIP WebSocket needs the "sip" subprotocol (Sec-WebSocket-Protocol: sip, RFC 7118)',
        );
        return;
      }
      server.handleUpgrade(req, socket, head, (ws) => serve(ws, req, secure));
    },
    close() {
      for (const ws of server.clients) ws.terminate();
      server.close();
    },
  };
}
