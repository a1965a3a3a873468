// The HTTP side's sockets: the app on the HTTP port, and, when a certificate is configured, the
// same app on the HTTPS port (CONTRACT §10: "HTTPS for everything the HTTP port serves"). Both
// hand WebSocket upgrades for /sip to SIP (RFC 7118: ws:// on HTTP, wss:// on HTTPS).
import type { IncomingMessage } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { SecureContextOptions } from "node:tls";
import type { FastifyInstance } from "fastify";
import {
  DEFAULT_HTTP_POLICY,
  type HttpPolicy,
  limitConnectionsPerSource,
  serverOptions,
} from "./http-policy.js";

/** The path of the SIP WebSocket (CONTRACT §10). */
export const SIP_WEBSOCKET_PATH = "/sip";

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, secure: boolean) => void;

export interface HttpListeners {
  httpPort: number;
  httpsPort: number | undefined;
  /** A renewed certificate for new HTTPS connections (SIGHUP). */
  setSecureContext(secure: SecureContextOptions): void;
  /** Whether each port is bound (CONTRACT §12's readiness); HTTPS only when it is served. */
  listening(): { http: boolean; https?: boolean };
  close(): Promise<void>;
}

/**
 * On stop, requests under way get this long to finish before every connection is cut (an
 * event stream or a slow client would otherwise hold the stop past CONTRACT §12's 10 s).
 */
const DRAIN_MS = 5_000;

export interface ListenOptions {
  host: string;
  port: number;
  https: { port: number; secure: SecureContextOptions } | undefined;
  onSipUpgrade: UpgradeHandler;
  /** Connections per source and deadlines (CONTRACT §14); the contract's defaults when absent. */
  policy?: HttpPolicy;
}

function portOf(server: { address(): ReturnType<HttpsServer["address"]> }, fallback: number): number {
  const a = server.address();
  return typeof a === "object" && a ? a.port : fallback;
}

/** Upgrades to anything but /sip are not ours: 404, and the connection closes. */
function upgrades(onSipUpgrade: UpgradeHandler, secure: boolean) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? "").split("?")[0];
    if (path === SIP_WEBSOCKET_PATH) return onSipUpgrade(req, socket, head, secure);
    socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  };
}

export async function listenHttp(app: FastifyInstance, o: ListenOptions): Promise<HttpListeners> {
  const policy = o.policy ?? DEFAULT_HTTP_POLICY;
  // Counted from the first connection: the limit is in place before the port is open.
  limitConnectionsPerSource(app.server, policy);
  await app.listen({ host: o.host, port: o.port });
  app.server.on("upgrade", upgrades(o.onSipUpgrade, false));
  let https: HttpsServer | undefined;
  if (o.https) {
    const server = createHttpsServer({ ...serverOptions(policy), ...o.https.secure }, (req, res) =>
      app.routing(req, res),
    );
    server.keepAliveTimeout = policy.keepAliveTimeoutMs;
    limitConnectionsPerSource(server, policy);
    server.on("upgrade", upgrades(o.onSipUpgrade, true));
    server.on("tlsClientError", (_err, socket) => socket.destroy());
    const port = o.https.port;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, o.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    https = server;
  }
  return {
    httpPort: portOf(app.server, o.port),
    httpsPort: https ? portOf(https, o.https?.port ?? 0) : undefined,
    setSecureContext: (secure) => https?.setSecureContext(secure),
    listening: () => ({ http: app.server.listening, ...(https ? { https: https.listening } : {}) }),
    async close() {
      // Both stop accepting at once; idle keep-alive connections close, requests under way finish
      // (Fastify answers 503 to new requests on their connections meanwhile).
      const cut = setTimeout(() => {
        app.server.closeAllConnections();
        https?.closeAllConnections();
      }, DRAIN_MS);
      try {
        await Promise.all([
          new Promise<void>((resolve) => {
            if (!https) return resolve();
            https.close(() => resolve());
            https.closeIdleConnections();
          }),
          app.close(),
        ]);
      } finally {
        clearTimeout(cut);
      }
    },
  };
}
