// The SIP server: transports hand bytes to the parser, the transaction layer absorbs
// retransmissions, the registrar decides, and the response goes back down the same path
// (RFC 3261 §18.2.2 with RFC 3581). No SQL and no HTTP here: credentials and bindings come in
// through the registrar's ports.
import { type Clock, systemClock } from "../util/time.js";
import { formatChallenge, parseAuthHeader } from "./message/auth-header.js";
import { getContacts, getCSeq, getFrom, getTo, getVias, parseDeltaSeconds } from "./message/fields.js";
import { unquote } from "./message/grammar.js";
import { parseMessage } from "./message/parser.js";
import type { SipRequest } from "./message/types.js";
import { formatVia, type Via } from "./message/via.js";
import type { FlowAddress } from "./proxy/flow-token.js";
import type { SipProxy } from "./proxy/proxy.js";
import { randomHex } from "./random.js";
import type { Binding } from "./registrar/location.js";
import type { NonceService } from "./registrar/nonce.js";
import type { RegisterContact, RegisterOutcome, Registrar } from "./registrar/registrar.js";
import { MIN_EXPIRES } from "./registrar/registrar.js";
import { buildResponse, REASONS, responseRoute } from "./response.js";
import { NonInviteServerTransactions, type ServerTransaction } from "./transaction/non-invite-server.js";
import { startTcp } from "./transport/tcp.js";
import type { Flow, TransportStats } from "./transport/types.js";
import { startUdp } from "./transport/udp.js";

export interface SipLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface SipServerOptions {
  host: string;
  port: number;
  registrar: Registrar;
  nonces: NonceService;
  logger: SipLogger;
  maxMessageSize?: number;
  /** Offer SHA-256 digest too (after MD5, so MD5-only clients still answer the first). */
  offerSha256?: boolean;
  /** The clock bindings are stamped with: a 200's `expires` and `Date` are read on it too. */
  clock?: Clock;
  /** Builds the call-routing proxy once the transports are up (no proxy: calls get 405). */
  proxy?: (ctx: ProxyContext) => SipProxy;
}

/** What the proxy gets from the stack: the chosen port, outbound sending, server transactions. */
export interface ProxyContext {
  port: number;
  send(target: FlowAddress, data: Buffer): void;
  nonInviteServer: NonInviteServerTransactions;
}

export interface SipStats extends TransportStats {
  requests: number;
  badRequests: number;
  retransmissions: number;
}

export interface SipServer {
  port: number;
  stats: SipStats;
  close(): Promise<void>;
}

const LOCAL_ALLOW = "REGISTER, OPTIONS";
const PROXY_ALLOW =
  "REGISTER, OPTIONS, INVITE, ACK, CANCEL, BYE, UPDATE, INFO, PRACK, MESSAGE, REFER, NOTIFY, SUBSCRIBE";
const PROXY_METHODS = new Set(PROXY_ALLOW.split(", "));
const MAGIC_COOKIE = "z9hG4bK";

function contactLines(bindings: Binding[], now: number): string[] {
  return bindings.map((b) => {
    const left = Math.max(0, Math.round((b.expireAt - now) / 1_000_000));
    const instance = b.instanceId ? `;+sip.instance="${b.instanceId}"` : "";
    return `Contact: <${b.contact}>;expires=${left}${instance}`;
  });
}

export async function startSipServer(opts: SipServerOptions): Promise<SipServer> {
  const maxMessageSize = opts.maxMessageSize ?? 65_535;
  const stats: SipStats = {
    garbage: 0,
    tcpConnections: 0,
    requests: 0,
    badRequests: 0,
    retransmissions: 0,
  };
  const transactions = new NonInviteServerTransactions();
  const { registrar, nonces, logger } = opts;
  const clock = opts.clock ?? systemClock();
  let proxy: SipProxy | undefined;
  const allow = opts.proxy ? PROXY_ALLOW : LOCAL_ALLOW;

  function challenge(realm: string, stale: boolean): string[] {
    const nonce = nonces.issue(realm);
    const staleParam = stale ? ", stale=true" : "";
    // Spelled exactly as CONTRACT §7 shows it; stale goes last so the prefix stays the same.
    const lines = [
      `WWW-Authenticate: ${formatChallenge("Digest", [
        ["realm", realm],
        ["nonce", nonce],
        ["qop", "auth"],
        ["algorithm", "MD5"],
      ])}${staleParam}`,
    ];
    if (opts.offerSha256) {
      lines.push(
        `WWW-Authenticate: ${formatChallenge("Digest", [
          ["realm", realm],
          ["nonce", nonce],
          ["qop", "auth"],
          ["algorithm", "SHA-256"],
        ])}${staleParam}`,
      );
    }
    return lines;
  }

  function outcomeResponse(req: SipRequest, topVia: string, outcome: RegisterOutcome, toTag: string): Buffer {
    switch (outcome.status) {
      case 401:
        return buildResponse(
          req,
          topVia,
          401,
          "Unauthorized",
          challenge(outcome.realm, outcome.stale),
          toTag,
        );
      case 423:
        return buildResponse(req, topVia, 423, "Interval Too Brief", [`Min-Expires: ${MIN_EXPIRES}`], toTag);
      case 400:
      case 403:
        return buildResponse(req, topVia, outcome.status, outcome.reason, [], toTag);
      case 200: {
        const now = clock();
        return buildResponse(
          req,
          topVia,
          200,
          "OK",
          [...contactLines(outcome.bindings, now), `Date: ${new Date(now / 1000).toUTCString()}`],
          toTag,
        );
      }
    }
  }

  /** Reads a REGISTER for the registrar; a string is the reason of a 400. */
  function readRegister(req: SipRequest, flow: Flow): Parameters<Registrar["register"]>[0] | string {
    const h = req.headers;
    const to = getTo(h);
    const toUri = to?.sipUri;
    if (!toUri || toUri.scheme === "tel") return "Bad Request (To is not a SIP URI)";
    if (!toUri.user) return "Bad Request (To has no user part)";
    const cseq = getCSeq(h);
    if (!cseq) return "Bad Request (Malformed CSeq)";
    let expires: number | undefined;
    const expiresText = h.get("Expires");
    if (expiresText !== undefined) {
      expires = parseDeltaSeconds(expiresText);
      if (expires === undefined) return "Bad Request (Malformed Expires)";
    }
    let authorization: Map<string, string> | undefined;
    const authText = h.get("Authorization");
    if (authText !== undefined) {
      const parsed = parseAuthHeader(authText);
      if (!parsed) return "Bad Request (Malformed Authorization)";
      // Another scheme than Digest is treated as no credentials: the client gets the challenge.
      if (parsed.scheme.toLowerCase() === "digest") authorization = parsed.params;
    }
    const contacts = getContacts(h);
    if (contacts === undefined) return "Bad Request (Malformed Contact)";
    if (contacts === "*" && h.getAll("Contact").length > 1) return "Bad Request (Contact * must be alone)";
    let list: RegisterContact[] | "*" = "*";
    if (contacts !== "*") {
      list = [];
      for (const c of contacts) {
        if (!c.sipUri) return "Bad Request (Contact is not a SIP URI)";
        const e = c.params.get("expires");
        let cExpires: number | undefined;
        if (e !== undefined && e !== null) {
          cExpires = parseDeltaSeconds(e);
          if (cExpires === undefined) return "Bad Request (Malformed Contact expires)";
        }
        const inst = c.params.get("+sip.instance");
        list.push({ uri: c.uri, expires: cExpires, instanceId: inst ? unquote(inst) : "" });
      }
    }
    return {
      toUser: toUri.user,
      toHost: toUri.host,
      authorization,
      expires,
      contacts: list,
      origin: {
        receivedIp: flow.remoteAddress,
        receivedPort: flow.remotePort,
        transport: flow.transport,
        userAgent: h.get("User-Agent") ?? "",
        callId: h.get("Call-ID") ?? "",
        cseq: cseq.seq,
      },
    };
  }

  async function handleRegister(
    req: SipRequest,
    flow: Flow,
    tx: ServerTransaction,
    topVia: string,
    toTag: string,
  ): Promise<void> {
    const input = readRegister(req, flow);
    if (typeof input === "string") {
      stats.badRequests++;
      transactions.respond(tx, 400, buildResponse(req, topVia, 400, input, [], toTag));
      return;
    }
    try {
      const outcome = await registrar.register(input);
      transactions.respond(tx, outcome.status, outcomeResponse(req, topVia, outcome, toTag));
    } catch (err) {
      logger.warn({ err }, "REGISTER failed");
      transactions.respond(
        tx,
        500,
        buildResponse(req, topVia, 500, "Server Internal Error", ["Retry-After: 5"], toTag),
      );
    }
  }

  function onRequest(req: SipRequest, flow: Flow): void {
    stats.requests++;
    const vias = getVias(req.headers);
    const top = vias?.[0];
    if (!top) return;
    const cseq = getCSeq(req.headers);
    const branch = top.params.get("branch") ?? "";
    // §17.2.3: an ACK matches its INVITE's transaction, a CANCEL the INVITE's by branch too.
    const keyFor = (method: string) =>
      branch.startsWith(MAGIC_COOKIE)
        ? `${branch}|${top.host}:${top.port ?? ""}|${method}`
        : // RFC 2543 peers: match on the request's identity instead.
          `${req.headers.get("Call-ID")}|${cseq?.seq}|${getFrom(req.headers)?.params.get("tag") ?? ""}|${top.host}:${top.port ?? ""}|${method}|${method === "CANCEL" || method === "ACK" ? "" : req.uri}`;
    if (req.method === "ACK") {
      // Never answered. The ACK of a non-2xx ends its INVITE transaction here (hop by hop);
      // the ACK of a 2xx goes on end to end.
      const invite = proxy?.inviteTransaction(keyFor("INVITE"));
      if (invite?.receiveAck()) return;
      if (proxy) void proxy.onAck(req, flow);
      return;
    }
    // Where the responses go (an ACK, above, gets none).
    const route = responseRoute(top, flow);
    if (req.method === "INVITE" && proxy) {
      const key = keyFor("INVITE");
      const invite = proxy.inviteTransaction(key);
      if (invite) {
        stats.retransmissions++;
        invite.receiveRequestRetransmission();
        return;
      }
      void proxy.onInvite(req, flow, route, key);
      return;
    }
    const key = keyFor(req.method);
    const tx = transactions.receive(key, flow, route.address, route.port);
    if (!tx) {
      stats.retransmissions++;
      return;
    }
    const toTag = randomHex(6);
    // RFC 3261 §8.2.2.1: a Request-URI scheme the UAS does not support gets 416 (after the
    // method check of §8.2.1); a registrar binds sip: and sips: addresses only.
    const unsupportedUri = !req.requestUri || (req.method === "REGISTER" && req.requestUri.scheme === "tel");
    if (unsupportedUri && (req.method === "REGISTER" || req.method === "OPTIONS")) {
      transactions.respond(tx, 416, buildResponse(req, route.topVia, 416, REASONS[416] ?? "", [], toTag));
      return;
    }
    switch (req.method) {
      case "REGISTER":
        void handleRegister(req, flow, tx, route.topVia, toTag);
        return;
      case "OPTIONS":
        if (proxy?.handles(req)) break;
        transactions.respond(
          tx,
          200,
          buildResponse(req, route.topVia, 200, "OK", [`Allow: ${allow}`, "Accept: application/sdp"], toTag),
        );
        return;
      case "CANCEL":
        if (!proxy) break;
        proxy.onCancel(req, tx, keyFor("INVITE"), route);
        return;
    }
    // A method neither the registrar nor the proxy knows, in a request not for the proxy to route
    // (the server's own address): the server is the UAS, 405 (§8.2.1). Routed requests are
    // forwarded whatever their method (§16).
    if (!proxy || (!PROXY_METHODS.has(req.method) && !proxy.handles(req))) {
      transactions.respond(
        tx,
        405,
        buildResponse(req, route.topVia, 405, "Method Not Allowed", [`Allow: ${allow}`], toTag),
      );
      return;
    }
    void proxy.onRequest(req, flow, tx, route);
  }

  function onMessage(data: Buffer, flow: Flow): void {
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

  // UDP and TCP share one port; with port 0 the pair is retried until both get the same one.
  for (let attempt = 1; ; attempt++) {
    const udp = await startUdp(opts.host, opts.port, onMessage);
    try {
      const tcp = await startTcp(opts.host, udp.port, onMessage, stats, { maxMessageSize });
      proxy = opts.proxy?.({
        port: udp.port,
        nonInviteServer: transactions,
        send: (target, data) =>
          target.transport === "TCP"
            ? tcp.send(target.address, target.port, data)
            : udp.send(target.address, target.port, data),
      });
      logger.info({ sipPort: udp.port }, `sipext SIP listening on udp+tcp ${opts.host}:${udp.port}`);
      return {
        port: udp.port,
        stats,
        async close() {
          await Promise.all([udp.close(), tcp.close()]);
        },
      };
    } catch (err) {
      await udp.close();
      if (opts.port !== 0 || attempt >= 10) throw err;
    }
  }
}
