// REGISTER on the wire (RFC 3261 §10.3): reads the request into the registrar's input, asks the
// wire-free registrar (registrar.ts) and writes its outcome back as the response, in the
// request's server transaction.
import type { Challenger } from "../auth/challenge.js";
import { parseAuthHeader } from "../message/auth-header.js";
import {
  getContacts,
  getCSeq,
  getTo,
  optionTags,
  parseDeltaSeconds,
  parseQValue,
} from "../message/fields.js";
import { unquote } from "../message/grammar.js";
import { buildResponse } from "../message/response.js";
import { tagFor } from "../message/tags.js";
import type { SipRequest } from "../message/types.js";
import type { NonInviteServerTransactions, ServerTransaction } from "../transaction/non-invite-server.js";
import type { Flow } from "../transport/flow.js";
import type { Binding } from "./location.js";
import {
  MIN_EXPIRES,
  type RegisterContact,
  type RegisterInput,
  type RegisterOutcome,
  type Registrar,
} from "./registrar.js";

export interface RegisterUasOptions {
  registrar: Registrar;
  challenge: Challenger;
  transactions: NonInviteServerTransactions;
  /** the clock bindings are stamped with: a 200's `expires` and `Date` are read on it */
  clock: () => number;
  /** a REGISTER too malformed for the registrar (answered 400) */
  onBadRequest(): void;
  onError(err: unknown): void;
  /** told every outcome's status (metrics) */
  onOutcome?: (status: number) => void;
  /** counts the REGISTERs waiting for the registrar (the overload measure); returns "done" */
  track?: () => () => void;
}

/** The extensions this registrar supports (CONTRACT §7): RFC 3327 Path, RFC 5626 outbound. */
const SUPPORTED = new Set(["path", "outbound"]);
const SUPPORTED_LINE = "Supported: path, outbound";
const MAX_REG_ID = 2 ** 31 - 1;

/**
 * §10.3 step 8: the 200 lists every current binding with the time it has left, its q
 * (§10.2.1.2) and its instance and reg-id (RFC 5626 §6), by descending q.
 */
function contactLines(bindings: Binding[], now: number): string[] {
  return bindings.map((b) => {
    const left = Math.max(0, Math.round((b.expireAt - now) / 1_000_000));
    const q = b.q === undefined ? "" : `;q=${b.q}`;
    const instance = b.instanceId ? `;+sip.instance="${b.instanceId}"` : "";
    const regId = b.regId === undefined ? "" : `;reg-id=${b.regId}`;
    return `Contact: <${b.contact}>;expires=${left}${q}${instance}${regId}`;
  });
}

const sameFlow = (b: Binding, flow: Flow) =>
  b.receivedPort === flow.remotePort && b.receivedIp === flow.remoteAddress && b.transport === flow.transport;

/** §8.2.2.3: the Require option tags this registrar does not support. */
export function unsupportedRequire(req: SipRequest): string[] {
  return [...optionTags(req.headers, "Require")].filter((t) => !SUPPORTED.has(t));
}

/** Reads a REGISTER for the registrar; a string is the reason of a 400. */
export function readRegister(req: SipRequest, flow: Flow): RegisterInput | string {
  const h = req.headers;
  const toUri = getTo(h)?.sipUri;
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
      const qText = c.params.get("q");
      const q = qText === undefined ? undefined : parseQValue(qText ?? "");
      if (qText !== undefined && q === undefined) return "Bad Request (Malformed Contact q)";
      const regIdText = c.params.get("reg-id");
      const regId = regIdText === undefined ? undefined : parseDeltaSeconds(regIdText ?? "");
      if (regIdText !== undefined && (regId === undefined || regId < 1 || regId > MAX_REG_ID))
        return "Bad Request (Malformed Contact reg-id)";
      list.push({ uri: c.uri, expires: cExpires, instanceId: inst ? unquote(inst) : "", regId, q });
    }
  }
  return {
    toUser: toUri.user,
    toHost: toUri.host,
    authorization,
    expires,
    contacts: list,
    supported: optionTags(h, "Supported"),
    origin: {
      path: h.getAll("Path"),
      receivedIp: flow.remoteAddress,
      receivedPort: flow.remotePort,
      transport: flow.transport,
      userAgent: h.get("User-Agent") ?? "",
      callId: h.get("Call-ID") ?? "",
      cseq: cseq.seq,
    },
  };
}

export function registerUas(o: RegisterUasOptions) {
  function outcomeResponse(req: SipRequest, topVia: string, outcome: RegisterOutcome, key: string): Buffer {
    const toTag = tagFor(key);
    switch (outcome.status) {
      case 401:
        return buildResponse(
          req,
          topVia,
          401,
          "Unauthorized",
          o.challenge("WWW-Authenticate", outcome.realm, outcome.stale, key),
          toTag,
        );
      case 423:
        return buildResponse(req, topVia, 423, "Interval Too Brief", [`Min-Expires: ${MIN_EXPIRES}`], toTag);
      case 400:
      case 403:
        return buildResponse(req, topVia, outcome.status, outcome.reason, [], toTag);
      case 200: {
        const now = o.clock();
        const lines = contactLines(outcome.bindings, now);
        // RFC 3327 §5.3: the Path values, "in the same order", when the UA supports Path.
        for (const p of outcome.path) lines.push(`Path: ${p}`);
        if (outcome.outbound) lines.push("Require: outbound");
        lines.push(SUPPORTED_LINE, `Date: ${new Date(now / 1000).toUTCString()}`);
        return buildResponse(req, topVia, 200, "OK", lines, toTag);
      }
    }
  }

  return {
    /** Answers a new REGISTER in its server transaction (a retransmission never comes here). */
    async handle(req: SipRequest, flow: Flow, tx: ServerTransaction, topVia: string): Promise<void> {
      // A retransmission arriving after a stateless answer is answered the same (same tag, same
      // nonce): the client sees a retransmission, not a second, different answer.
      const toTag = tagFor(tx.key);
      // §8.2.2.3: an extension the UAC requires and we do not support: 420 naming it.
      const unsupported = unsupportedRequire(req);
      if (unsupported.length > 0) {
        const extra = [`Unsupported: ${unsupported.join(", ")}`, SUPPORTED_LINE];
        o.transactions.respondStateless(tx, buildResponse(req, topVia, 420, "Bad Extension", extra, toTag));
        return;
      }
      const input = readRegister(req, flow);
      if (typeof input === "string") {
        o.onBadRequest();
        o.transactions.respondStateless(tx, buildResponse(req, topVia, 400, input, [], toTag));
        return;
      }
      const done = o.track?.();
      try {
        const outcome = await o.registrar.register(input);
        done?.();
        // A phone registered over this connection: the transport keeps it (RFC 5626).
        if (outcome.status === 200 && outcome.bindings.some((b) => sameFlow(b, flow))) flow.bound = true;
        const response = outcomeResponse(req, topVia, outcome, tx.key);
        o.onOutcome?.(outcome.status);
        // Only a 200 is kept to answer retransmissions; a rejection is stateless (CONTRACT §9).
        if (outcome.status === 200) o.transactions.respond(tx, 200, response);
        else o.transactions.respondStateless(tx, response);
      } catch (err) {
        done?.();
        o.onError(err);
        const retry = ["Retry-After: 5"];
        o.transactions.respond(
          tx,
          500,
          buildResponse(req, topVia, 500, "Server Internal Error", retry, toTag),
        );
      }
    },
  };
}

export type RegisterUas = ReturnType<typeof registerUas>;
