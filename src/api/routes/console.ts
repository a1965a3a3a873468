// The web console (src/console/): its page at /, its files under /console/, JsSIP for its web
// phone at /console/vendor/jssip.js, and GET /v1.0/console-config (the settings it reads after
// logging in). The files are plain ES modules and CSS, revalidated by ETag (`no-cache`: a new
// version is seen at the next load), under a Content-Security-Policy without inline scripts.
import { createRequire } from "node:module";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { ConsoleConfig } from "../../contract/console.js";
import {
  type Asset,
  JSSIP_MISSING,
  JSSIP_PATH,
  type JssipModule,
  jssipModule,
  loadAssets,
} from "../console-assets.js";
import { SIP_WEBSOCKET_PATH } from "../listeners.js";
import { principalOf } from "../plugins/auth.js";
import { sendError } from "../plugins/errors.js";
import { route } from "../schemas.js";
import type { ApiServices } from "../services.js";

export interface ConsoleSettings {
  directDomain: string;
  showPasswords: boolean;
}

/** A Host header fit to be written into the policy (anything else: 'self' alone). */
const SANE_HOST = /^[A-Za-z0-9.-]{1,253}(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?$/;

function policy(host: string | undefined): string {
  // 'self' covers ws:/wss: to this host in current browsers (CSP 3); older ones need them named.
  const sockets = host && SANE_HOST.test(host) ? ` ws://${host} wss://${host}` : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "media-src 'self' blob: mediastream:",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function send(req: FastifyRequest, reply: FastifyReply, a: Asset) {
  reply.headers({
    "content-type": a.type,
    "cache-control": "no-cache",
    etag: a.etag,
    "content-security-policy": policy(req.headers.host),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "microphone=(self), camera=(), geolocation=()",
  });
  if (req.headers["if-none-match"] === a.etag) return reply.code(304).send();
  return reply.send(a.body);
}

const hidden = { schema: { hide: true } };

/** The page and its files (no credentials: the page logs in through /auth/login). */
export const consoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const assets = loadAssets();
  const vendored = assets.get(JSSIP_PATH);
  /** built at the first request for it, then kept */
  let jssip: Promise<JssipModule> | undefined;
  const resolvable = (name: string) => {
    try {
      createRequire(import.meta.url).resolve(name);
      return true;
    } catch {
      return false;
    }
  };
  if (!vendored && !(resolvable("esbuild") && resolvable("jssip"))) app.log.warn(JSSIP_MISSING);
  const notFound = (req: FastifyRequest, reply: FastifyReply) =>
    sendError(req, reply, 404, "NOT_FOUND", `no console file at ${req.url.split("?")[0]}`);
  app.get("/", hidden, (req, reply) => {
    const index = assets.get("index.html");
    return index ? send(req, reply, index) : notFound(req, reply);
  });
  app.get<{ Params: { "*": string } }>("/console/*", hidden, async (req, reply) => {
    const path = req.params["*"];
    if (path === JSSIP_PATH) {
      jssip ??= jssipModule(vendored);
      const m = await jssip;
      if (!m.ok) return sendError(req, reply, 404, "JSSIP_UNAVAILABLE", m.why);
      return send(req, reply, m.asset);
    }
    const a = assets.get(path);
    return a ? send(req, reply, a) : notFound(req, reply);
  });
};

/** GET /v1.0/console-config: what the console reads once logged in. */
export const consoleConfigRoutes: FastifyPluginAsyncTypebox<{
  services: ApiServices;
  console: ConsoleSettings;
}> = async (app, { services, console }) => {
  app.get(
    "/console-config",
    route(["console"], ConsoleConfig, {
      summary: "The web console's settings: the direct domain, the SIP WebSocket path, where events start",
    }),
    async (req) => ({
      direct_domain: console.directDomain,
      sip_websocket_path: SIP_WEBSOCKET_PATH,
      show_passwords: console.showPasswords,
      events_seq: await services.events.latest(principalOf(req)),
    }),
  );
};
