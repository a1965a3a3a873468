// The SIP server's dispatcher: transports hand up bytes, the parser makes a message, the
// transaction layer matches it (§17.2.3) and absorbs retransmissions, and the request goes to
// the element that serves its method — the registrar's REGISTER UAS, the proxy, or the small UAS
// below for OPTIONS and what nobody serves. Responses go to the proxy's client transactions.
// No SQL, no HTTP: what the registrar and the proxy need comes in through their ports.
import type { SecureContextOptions } from "node:tls";
import type { SourceBans } from "./guard/bans.js";
import type { OverloadMeter } from "./guard/overload.js";
import { getTo, getVias } from "./message/fields.js";
import { parseMessage } from "./message/parser.js";
import { buildResponse, REASONS, type ResponseRoute, responseRoute } from "./message/response.js";
import { newTag, tagFor } from "./message/tags.js";
import type { SipRequest } from "./message/types.js";
import { methodLabel, type SipObserver, UNOBSERVED } from "./observer.js";
import type { SipProxy } from "./proxy/proxy.js";
import { type RegisterUas, unsupportedRequire } from "./registrar/register-uas.js";
import { serverKey } from "./transaction/matching.js";
import { NonInviteServerTransactions } from "./transaction/non-invite-server.js";
import { Connections } from "./transport/connections.js";
import type { Flow, FlowAddress, TransportName, TransportStats } from "./transport/flow.js";
import { type StreamTransport, startTcp, startTls, type TlsTransport } from "./transport/stream.js";
import { startUdp } from "./transport/udp.js";
import type { UdpAffinity } from "./transport/udp-affinity.js";
import { startWs, type WsTransport } from "./transport/ws.js";

export interface SipLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** What the elements get from the stack once the transports are up. */
export interface StackContext {
  /** the port of each transport the stack listens on (WS and WSS come in through HTTP) */
  ports: Partial<Record<TransportName, number>>;
  /** sends bytes toward a flow (a UDP datagram, or the TCP connection to that address) */
  send(target: FlowAddress, data: Buffer): void;
  /** the non-INVITE server transactions requests are matched in */
  transactions: NonInviteServerTransactions;
  /** the stack's counters, for the elements to add to */
  stats: SipStats;
}

export interface SipServerOptions {
  host: string;
  port: number;
  logger: SipLogger;
  maxMessageSize?: number;
  /** SIP over TLS (RFC 3261 §26.2) on its own port, with this certificate and key */
  tls?: { port: number; secure: SecureContextOptions };
  /** protection on the open internet (CONTRACT §14): bans, connections per source, overload */
  guard?: StackGuard;
  /** told of each request received and response sent (CONTRACT §12's metrics) */
  observer?: SipObserver;
  /** a worker of several sharing the UDP port (SIPEXT_WORKERS): each Call-ID to one worker */
  udpAffinity?: UdpAffinity;
  /** Builds the REGISTER UAS (no registrar: REGISTER gets 405). */
  registrar?: (ctx: StackContext) => RegisterUas;
  /** Builds the call-routing proxy (no proxy: calls get 405). */
  proxy?: (ctx: StackContext) => SipProxy;
}

export interface StackGuard {
  bans: SourceBans;
  overload: OverloadMeter;
  maxConnectionsPerSource: number;
}

export interface SipStats extends TransportStats {
  requests: number;
  badRequests: number;
  retransmissions: number;
  /** datagrams and messages of banned sources, dropped unanswered (§14) */
  banned: number;
  /** new requests refused with 503 while overloaded (§14) */
  overloaded: number;
}

export interface SipServer {
  /** the UDP and TCP port */
  port: number;
  /** the TLS port, when TLS is on */
  tlsPort: number | undefined;
  /** a worker's own UDP port (SIPEXT_WORKERS), where other nodes reach this very process */
  ownPort: number | undefined;
  stats: SipStats;
  /** SIP over WebSocket: the HTTP side hands it the upgrade requests for /sip */
  websocket: WsTransport;
  /** What the stack keeps right now: non-INVITE server transactions, proxied INVITEs (calls). */
  kept(): { transactions: number; calls: number };
  /** Whether each SIP listener is bound (CONTRACT §12's readiness); TLS only when it is served. */
  listening(): Partial<Record<"UDP" | "TCP" | "TLS", boolean>>;
  /** A renewed certificate for TLS (SIGHUP); the HTTPS side renews its own. */
  setSecureContext(secure: SecureContextOptions): void;
  close(): Promise<void>;
}

const LOCAL_ALLOW = "REGISTER, OPTIONS";
const PROXY_ALLOW =
  "REGISTER, OPTIONS, INVITE, ACK, CANCEL, BYE, UPDATE, INFO, PRACK, MESSAGE, REFER, NOTIFY, SUBSCRIBE";
const PROXY_METHODS = new Set(PROXY_ALLOW.split(", "));

export async function startSipServer(opts: SipServerOptions): Promise<SipServer> {
  const maxMessageSize = opts.maxMessageSize ?? 65_535;
  const stats: SipStats = {
    garbage: 0,
    tcpConnections: 0,
    refused: 0,
    requests: 0,
    badRequests: 0,
    retransmissions: 0,
    banned: 0,
    overloaded: 0,
    observer: opts.observer ?? UNOBSERVED,
  };
  const transactions = new NonInviteServerTransactions();
  const { logger, guard } = opts;
  let proxy: SipProxy | undefined;
  let register: RegisterUas | undefined;
  const allow = opts.proxy ? PROXY_ALLOW : LOCAL_ALLOW;

  /**
   * §14: overloaded, a new request outside a dialog (no To tag) gets a stateless 503 with
   * Retry-After (RFC 3261 §21.5.4); what is already under way — retransmissions (matched before
   * this), CANCELs, in-dialog requests, responses — is still served.
   */
  function refusedForOverload(req: SipRequest, flow: Flow, route: ResponseRoute, key: string): boolean {
    if (!guard?.overload.overloaded) return false;
    if (getTo(req.headers)?.params.get("tag")) return false;
    // An answer to our 401/407 finishes work already begun (the first request's challenge).
    if (req.headers.has("Authorization") || req.headers.has("Proxy-Authorization")) return false;
    stats.overloaded++;
    const retry = [`Retry-After: ${guard.overload.retryAfter()}`];
    const reason = "Service Unavailable (overloaded)";
    flow.send(buildResponse(req, route.topVia, 503, reason, retry, tagFor(key)), route.address, route.port);
    return true;
  }

  function onRequest(req: SipRequest, flow: Flow): void {
    stats.requests++;
    stats.observer.requestReceived(methodLabel(req.method), flow.transport);
    const top = getVias(req.headers)?.[0];
    if (!top) return;
    if (req.method === "ACK") {
      // Never answered. The ACK of a non-2xx ends its INVITE transaction here (hop by hop);
      // the ACK of a 2xx goes on end to end.
      const invite = proxy?.inviteTransaction(serverKey(req, top, "INVITE"));
      if (invite?.receiveAck()) return;
      if (proxy) void proxy.onAck(req, flow);
      return;
    }
    // Where the responses go (an ACK, above, gets none).
    const route = responseRoute(top, flow);
    if (req.method === "INVITE" && proxy) {
      const key = serverKey(req, top, "INVITE");
      const invite = proxy.inviteTransaction(key);
      if (invite) {
        stats.retransmissions++;
        invite.receiveRequestRetransmission();
        return;
      }
      if (refusedForOverload(req, flow, route, key)) return;
      void proxy.onInvite(req, flow, route, key);
      return;
    }
    const tx = transactions.receive(serverKey(req, top, req.method), flow, route.address, route.port);
    if (!tx) {
      stats.retransmissions++;
      return;
    }
    if (req.method !== "CANCEL" && refusedForOverload(req, flow, route, tx.key)) {
      transactions.forget(tx.key);
      return;
    }
    const answer = (status: number, reason: string, extra: string[] = []) =>
      transactions.respond(tx, status, buildResponse(req, route.topVia, status, reason, extra, newTag()));
    // RFC 3261 §8.2.2.1: a Request-URI scheme the UAS does not support gets 416 (after the
    // method check of §8.2.1); a registrar binds sip: and sips: addresses only.
    const unsupportedUri = !req.requestUri || (req.method === "REGISTER" && req.requestUri.scheme === "tel");
    if (unsupportedUri && (req.method === "REGISTER" || req.method === "OPTIONS")) {
      answer(416, REASONS[416] ?? "");
      return;
    }
    switch (req.method) {
      case "REGISTER":
        if (!register) break;
        void register.handle(req, flow, tx, route.topVia);
        return;
      case "OPTIONS": {
        if (proxy?.handles(req)) break;
        // §8.2.2.3 (and §11.2: OPTIONS is answered as an INVITE would be).
        const unsupported = unsupportedRequire(req);
        if (unsupported.length > 0) answer(420, "Bad Extension", [`Unsupported: ${unsupported.join(", ")}`]);
        else answer(200, "OK", [`Allow: ${allow}`, "Accept: application/sdp", "Supported: path, outbound"]);
        return;
      }
      case "CANCEL":
        if (!proxy) break;
        proxy.onCancel(req, tx, serverKey(req, top, "INVITE"), route);
        return;
    }
    // A method neither the registrar nor the proxy knows, in a request not for the proxy to route
    // (the server's own address): the server is the UAS, 405 (§8.2.1). Routed requests are
    // forwarded whatever their method (§16).
    if (!proxy || (!PROXY_METHODS.has(req.method) && !proxy.handles(req))) {
      answer(405, "Method Not Allowed", [`Allow: ${allow}`]);
      return;
    }
    void proxy.onRequest(req, flow, tx, route);
  }

  function onMessage(data: Buffer, flow: Flow): void {
    // A banned source learns nothing: its messages are dropped before they are even read.
    if (guard?.bans.isBanned(flow.remoteAddress)) {
      stats.banned++;
      return;
    }
    try {
      const parsed = parseMessage(data, { maxSize: maxMessageSize });
      if (!parsed.ok) {
        const partial = parsed.request;
        const via = partial ? getVias(partial.headers)?.[0] : undefined;
        if (!partial || !via || partial.method === "ACK") {
          stats.garbage++;
          return;
        }
        // Complete enough to answer: 400 naming what was wrong, or 505 for another SIP version
        // (RFC 3261 §21.5.7); no transaction: it was never valid.
        stats.badRequests++;
        const route = responseRoute(via, flow);
        const status = parsed.status ?? 400;
        const reason =
          status === 505 ? (REASONS[505] ?? "") : `Bad Request (${parsed.reason})`.replace(/[\r\n]/g, " ");
        flow.send(
          buildResponse({ headers: partial.headers } as SipRequest, route.topVia, status, reason),
          route.address,
          route.port,
        );
        return;
      }
      if (parsed.message.kind === "request") onRequest(parsed.message, flow);
      else proxy?.onResponse(parsed.message);
    } catch (err) {
      // The parser never throws on input; this guards the stack's own bugs from taking the process.
      stats.garbage++;
      logger.warn({ err }, "SIP message dropped");
    }
  }

  const connections = new Connections(
    guard && { maxPerSource: guard.maxConnectionsPerSource, isBanned: (a) => guard.bans.isBanned(a) },
  );
  // A new ban closes the source's open connections too.
  guard?.bans.onBan((ban) => connections.closeFrom(ban.source));
  const streams = { maxMessageSize };
  const websocket = startWs(onMessage, stats, connections, streams);
  // UDP and TCP share one port; with port 0 the pair is retried until both get the same one.
  for (let attempt = 1; ; attempt++) {
    const udp = await startUdp(opts.host, opts.port, onMessage, stats, opts.udpAffinity);
    let tcp: StreamTransport | undefined;
    let tls: TlsTransport | undefined;
    try {
      tcp = await startTcp(opts.host, udp.port, onMessage, stats, connections, streams);
      tls =
        opts.tls &&
        (await startTls(opts.host, opts.tls.port, opts.tls.secure, onMessage, stats, connections, streams));
      const ctx: StackContext = {
        ports: { UDP: udp.port, TCP: udp.port, ...(tls ? { TLS: tls.port } : {}) },
        transactions,
        stats,
        send(target, data) {
          switch (target.transport) {
            case "UDP":
              return udp.send(target.address, target.port, data);
            case "TCP":
              return tcp?.send(target.address, target.port, data);
            case "TLS":
              return tls?.send(target.address, target.port, data);
            default:
              // WebSocket: only over the browser's own connection (RFC 7118 §5.2).
              return connections.get(target)?.send(data);
          }
        },
      };
      register = opts.registrar?.(ctx);
      proxy = opts.proxy?.(ctx);
      const tlsPort = tls?.port;
      logger.info(
        { sipPort: udp.port, sipTlsPort: tlsPort },
        `sipext SIP listening on udp+tcp ${opts.host}:${udp.port}`,
      );
      return {
        port: udp.port,
        tlsPort,
        ownPort: udp.ownPort,
        stats,
        websocket,
        kept: () => ({ transactions: transactions.size(), calls: proxy?.callsInProgress ?? 0 }),
        listening: () => ({
          UDP: udp.listening(),
          TCP: tcp?.listening() ?? false,
          ...(tls ? { TLS: tls.listening() } : {}),
        }),
        setSecureContext: (secure) => tls?.setSecureContext(secure),
        async close() {
          guard?.overload.stop();
          websocket.close();
          await Promise.all([udp.close(), tcp?.close(), tls?.close()]);
        },
      };
    } catch (err) {
      await Promise.all([udp.close(), tcp?.close()]);
      if (opts.port !== 0 || attempt >= 10) {
        websocket.close();
        throw err;
      }
    }
  }
}
