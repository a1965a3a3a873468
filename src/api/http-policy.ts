// What the HTTP and HTTPS servers enforce on the open internet (CONTRACT §14): whose
// X-Forwarded-For is believed, how many connections one source address may hold, and how long a
// client may take over its headers, its whole request and an idle keep-alive connection.
import type { ServerOptions } from "node:http";
import type { Server as NetServer, Socket } from "node:net";
import {
  addressBlocks,
  type Config,
  DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
  HTTP_HEADERS_TIMEOUT_MS,
  HTTP_KEEP_ALIVE_TIMEOUT_MS,
  HTTP_REQUEST_TIMEOUT_MS,
} from "../config.js";
import { inBlocks, unmapIpv4 } from "../util/addresses.js";

export interface HttpPolicy {
  /** False when SIPEXT_TRUST_PROXY is empty: then the client address is always the peer's. */
  trustsProxies: boolean;
  /** Whether a peer is one of the operator's reverse proxies (SIPEXT_TRUST_PROXY). */
  isTrustedProxy(address: string): boolean;
  maxConnectionsPerSource: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

type PolicyConfig = Pick<
  Config,
  | "trustProxy"
  | "maxConnectionsPerSource"
  | "httpHeadersTimeoutMs"
  | "httpRequestTimeoutMs"
  | "httpKeepAliveTimeoutMs"
>;

export function httpPolicy(c: PolicyConfig): HttpPolicy {
  return {
    trustsProxies: c.trustProxy.length > 0,
    isTrustedProxy: inBlocks(addressBlocks(c.trustProxy)),
    maxConnectionsPerSource: c.maxConnectionsPerSource,
    headersTimeoutMs: c.httpHeadersTimeoutMs,
    requestTimeoutMs: c.httpRequestTimeoutMs,
    keepAliveTimeoutMs: c.httpKeepAliveTimeoutMs,
  };
}

/** The contract's defaults, trusting no proxy (an app built without a configuration). */
export const DEFAULT_HTTP_POLICY: HttpPolicy = httpPolicy({
  trustProxy: [],
  maxConnectionsPerSource: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
  httpHeadersTimeoutMs: HTTP_HEADERS_TIMEOUT_MS,
  httpRequestTimeoutMs: HTTP_REQUEST_TIMEOUT_MS,
  httpKeepAliveTimeoutMs: HTTP_KEEP_ALIVE_TIMEOUT_MS,
});

/**
 * node:http options for both servers. Node checks the header and request deadlines on a timer
 * (every 30 s by default, which would let a slow client keep its connection up to 40 s): checked
 * every second, or twice per header deadline when that is shorter (tests), they hold to the second.
 */
export function serverOptions(p: HttpPolicy): ServerOptions {
  return {
    headersTimeout: p.headersTimeoutMs,
    requestTimeout: p.requestTimeoutMs,
    keepAliveTimeout: p.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(p.headersTimeoutMs / 2))),
  };
}

/**
 * Counts a server's open connections per source address and destroys, as soon as it arrives,
 * one past `maxConnectionsPerSource`. Trusted proxies are not counted: every client behind one
 * arrives from its address. A WebSocket (SIP over WS) stays an HTTP connection here.
 */
export function limitConnectionsPerSource(server: NetServer, p: HttpPolicy): void {
  const open = new Map<string, number>();
  server.on("connection", (socket: Socket) => {
    const remote = socket.remoteAddress;
    if (remote === undefined) {
      socket.destroy(); // already gone
      return;
    }
    const source = unmapIpv4(remote);
    if (p.isTrustedProxy(source)) return;
    const n = open.get(source) ?? 0;
    if (n >= p.maxConnectionsPerSource) {
      socket.destroy();
      return;
    }
    open.set(source, n + 1);
    socket.once("close", () => {
      const left = (open.get(source) ?? 1) - 1;
      if (left <= 0) open.delete(source);
      else open.set(source, left);
    });
  });
}
