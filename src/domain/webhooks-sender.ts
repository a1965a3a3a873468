// One webhook request (CONTRACT §11): the event's envelope as the body, signed
// `X-Sipext-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, sent with
// node:http(s) and judged by its status line: 2xx is delivered, anything else (or nothing within
// the timeout) failed. Redirects are not followed. Unless private targets are allowed, the host's
// addresses are checked again here, inside the connection's own DNS lookup: the address checked
// is the address connected to, so a name that re-resolves to 127.0.0.1 since it was accepted
// (DNS rebinding) is refused, and the refusal is a failed attempt like any other.
import { createHmac } from "node:crypto";
import type { LookupAddress, LookupOptions } from "node:dns";
import { lookup } from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { bareHost, isPublicAddress } from "./webhooks-target.js";

export interface WebhookRequest {
  uri: string;
  method: "POST" | "PUT";
  eventId: string;
  body: string;
  secret: string;
  timeoutMs: number;
  allowPrivate: boolean;
  /** aborts the request (the server is stopping) */
  signal?: AbortSignal;
}

export interface WebhookResult {
  ok: boolean;
  /** the receiver's status code, 0 when it gave none */
  httpStatus: number;
  error: string;
}

/** The signature header's value for a body sent at `t` (unix seconds). */
export function webhookSignature(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`;
}

/** A response body is read (and dropped) up to this much; the connection is cut beyond. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const MAX_ERROR_CHARS = 200;

class RefusedAddress extends Error {
  readonly code = "EWEBHOOKREFUSED";
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** dns.lookup that answers only when every address of the host is public. */
function publicLookup(host: string, options: LookupOptions, callback: LookupCallback): void {
  lookup(host, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad || addresses.length === 0) {
      const why = `refused: ${host} resolves to ${bad?.address ?? "nothing"}, not a public address`;
      return callback(new RefusedAddress(why), []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
}

/** Keep-alive connections per scheme, shared by one worker's requests; destroyed when it stops. */
export function webhookAgents() {
  const opts = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: 60_000 };
  const agents = { http: new http.Agent(opts), https: new https.Agent(opts) };
  return { ...agents, destroy: () => (agents.http.destroy(), agents.https.destroy()) };
}

export type WebhookAgents = ReturnType<typeof webhookAgents>;

function describe(err: unknown): string {
  if (err instanceof RefusedAddress) return err.message;
  const e = err as NodeJS.ErrnoException;
  const text = e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message;
  return (text || String(err)).slice(0, MAX_ERROR_CHARS);
}

/** Sends one signed request; never throws. */
export function sendWebhook(r: WebhookRequest, agents: WebhookAgents): Promise<WebhookResult> {
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: WebhookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const failed = (error: string) => finish({ ok: false, httpStatus: 0, error });
    let url: URL;
    try {
      url = new URL(r.uri);
    } catch {
      return failed("the webhook_uri is not a valid URL");
    }
    const host = bareHost(url);
    if (!r.allowPrivate && isIP(host) !== 0 && !isPublicAddress(host)) {
      return failed(`refused: ${host} is not a public address`);
    }
    const t = Math.floor(Date.now() / 1000);
    const secure = url.protocol === "https:";
    let req: http.ClientRequest;
    try {
      req = (secure ? https : http).request(url, {
        method: r.method,
        agent: secure ? agents.https : agents.http,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(r.body),
          "user-agent": "sipext-webhook/1",
          "x-sipext-event-id": r.eventId,
          "x-sipext-signature": webhookSignature(r.secret, t, r.body),
        },
        ...(r.allowPrivate ? {} : { lookup: publicLookup }),
        ...(r.signal ? { signal: r.signal } : {}),
      });
    } catch (err) {
      return failed(describe(err));
    }
    timer = setTimeout(() => {
      failed(`no answer in ${Math.round(r.timeoutMs / 1000)} s`);
      req.destroy();
    }, r.timeoutMs);
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      finish({ ok, httpStatus: status, error: ok ? "" : `HTTP ${status}` });
      let read = 0;
      res.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      res.on("error", () => {});
    });
    req.on("error", (err) => failed(describe(err)));
    req.end(r.body);
  });
}
