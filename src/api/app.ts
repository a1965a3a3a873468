// The HTTP API as one Fastify instance: plugins, error mapping, OpenAPI and the resource routes.
import { randomUUID } from "node:crypto";
import cookie from "@fastify/cookie";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { ErrorBody } from "../contract/error.js";
import type { Metrics } from "../metrics.js";
import { DEFAULT_HTTP_POLICY, type HttpPolicy, serverOptions } from "./http-policy.js";
import { LoginThrottle } from "./login-throttle.js";
import { countHttpRequests, metricsRoutes } from "./metrics.js";
import { addNamedSchemas, documentRoute } from "./openapi.js";
import { authenticator } from "./plugins/auth.js";
import { frameworkError, registerErrorHandling } from "./plugins/errors.js";
import type { RateLimiter } from "./rate-limit.js";
import { accessKeyRoutes } from "./routes/accesskeys.js";
import { auditRoutes } from "./routes/audit.js";
import { authRoutes } from "./routes/auth.js";
import { callRoutes } from "./routes/calls.js";
import { type ConsoleSettings, consoleConfigRoutes, consoleRoutes } from "./routes/console.js";
import { contactRoutes } from "./routes/contacts.js";
import { domainRoutes } from "./routes/domains.js";
import { eventRoutes } from "./routes/events.js";
import { extensionRoutes } from "./routes/extensions.js";
import { healthRoutes } from "./routes/health.js";
import { identityRoutes } from "./routes/identity.js";
import { provisioningRoutes, publicProvisioningRoutes } from "./routes/provisioning.js";
import { sipBanRoutes } from "./routes/sip-bans.js";
import { webhookRoutes } from "./routes/webhooks.js";
import type { ApiServices } from "./services.js";

export const BODY_LIMIT = 64 * 1024;
const REQUEST_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface AppOptions {
  services: ApiServices;
  logger: FastifyBaseLogger;
  /** Trusted proxies and HTTP deadlines (CONTRACT §14); the contract's defaults when absent. */
  policy?: HttpPolicy;
  /** the login throttle, shared with the other nodes by the caller (CONTRACT §15); a fresh one when absent */
  loginThrottle?: LoginThrottle;
  /** what the web console is told (GET /v1.0/console-config) */
  console: ConsoleSettings;
  /** CONTRACT §12: health probes and metrics (absent: neither is served) */
  operations?: Operations;
  /** API rate limits (CONTRACT §17), shared with the other nodes by the caller; none when absent */
  rateLimiter?: RateLimiter;
}

export interface Operations {
  metrics: Metrics;
  /** SIPEXT_METRICS_TOKEN */
  metricsToken: string | undefined;
  /** the parts not ready now (GET /health/ready) */
  notReady(): Promise<string[]>;
  /** the scrape's text, when not this process's registry alone (SIPEXT_WORKERS) */
  scrape?: () => Promise<string>;
}

/** Credentials in query strings must never reach the logs. */
export const redactUrl = (url: string) => url.replace(/([?&](?:token|accesskey)=)[^&#]*/gi, "$1[redacted]");

export async function buildApp({
  services,
  logger,
  policy = DEFAULT_HTTP_POLICY,
  loginThrottle = new LoginThrottle(),
  console,
  operations,
  rateLimiter,
}: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    // One line per request (CONTRACT §12), written once it is answered (below), not two.
    logController: new LogController({ disableRequestLogging: true }),
    // req.ip is the right-most address not of a trusted proxy: the peer itself unless it is one,
    // then X-Forwarded-For read from the right (proxy-addr), so a client cannot forge its address.
    trustProxy: policy.trustsProxies && ((address: string) => policy.isTrustedProxy(address)),
    http: serverOptions(policy),
    // Fastify sets these two on its server itself, over what `http` said.
    requestTimeout: policy.requestTimeoutMs,
    keepAliveTimeout: policy.keepAliveTimeoutMs,
    bodyLimit: BODY_LIMIT,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID_RE.test(given) ? given : randomUUID();
    },
    // Types are what they are: "123" is not a number and 123 is not a string.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: frameworkError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook("onRequest", async (req, reply) => {
    reply.header("x-request-id", req.id);
  });
  app.addHook("onResponse", async (req, reply) => {
    req.log.info(
      {
        method: req.method,
        url: redactUrl(req.url),
        route: req.routeOptions.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ip: req.ip,
      },
      "request",
    );
  });
  if (operations) countHttpRequests(app, operations.metrics);
  if (rateLimiter) app.addHook("onRequest", rateLimiter.byAddress);

  // JSON is the only body type (CONTRACT §6: wrong content type → 415), so Fastify's default
  // text/plain parser goes. An empty body (clients send one with DELETE or the body-less
  // regenerate) is no body, whatever its content type says.
  app.removeContentTypeParser(["application/json", "text/plain"]);
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
    if (body === "") return done(null, undefined);
    const err = new Error("unsupported media type") as Error & { code: string; statusCode: number };
    err.code = "FST_ERR_CTP_INVALID_MEDIA_TYPE";
    err.statusCode = 415;
    done(err, undefined);
  });
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      const err = new Error("invalid JSON") as Error & { code: string; statusCode: number };
      err.code = "FST_ERR_CTP_INVALID_JSON_BODY";
      err.statusCode = 400;
      done(err, undefined);
    }
  });

  registerErrorHandling(app);
  app.addSchema(ErrorBody);
  await app.register(cookie);
  addNamedSchemas(app);
  await app.register(swagger, {
    // Components are named by their $id ("Error", "Extension"), never "def-0" (src/api/openapi.ts).
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: documentRoute,
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "sipext API",
        version: "1.0",
        description: "VoIPbin-compatible SIP extension API. Every success is 200 with a JSON body.",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "JWT from /auth/login, or an access key" },
          tokenCookie: { type: "apiKey", in: "cookie", name: "token" },
          tokenQuery: { type: "apiKey", in: "query", name: "token" },
          accesskeyQuery: { type: "apiKey", in: "query", name: "accesskey" },
          accesskeyCookie: { type: "apiKey", in: "cookie", name: "accesskey" },
        },
      },
      security: [
        { bearer: [] },
        { tokenCookie: [] },
        { tokenQuery: [] },
        { accesskeyQuery: [] },
        { accesskeyCookie: [] },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());

  if (operations) {
    await app.register(healthRoutes, { notReady: operations.notReady });
    await app.register(metricsRoutes, {
      metrics: operations.metrics,
      token: operations.metricsToken,
      ...(operations.scrape ? { scrape: operations.scrape } : {}),
    });
  }
  const loginFailures = operations?.metrics.authFailures.labels("login");
  await app.register(authRoutes, {
    services,
    loginThrottle,
    ...(loginFailures ? { onLoginFailed: () => loginFailures.inc() } : {}),
  });
  await app.register(consoleRoutes);
  await app.register(publicProvisioningRoutes, { services });
  const authenticate = authenticator(services.auth);
  await app.register(
    async (v1) => {
      v1.decorateRequest("principal", undefined);
      // onRequest: a caller without credentials hears 401 before anything about its body.
      v1.addHook("onRequest", authenticate);
      if (rateLimiter) v1.addHook("onRequest", rateLimiter.byCustomer);
      await v1.register(identityRoutes, { services });
      await v1.register(domainRoutes, { services });
      await v1.register(accessKeyRoutes, { services });
      await v1.register(extensionRoutes, { services });
      await v1.register(contactRoutes, { services });
      await v1.register(sipBanRoutes, { services });
      await v1.register(eventRoutes, { services });
      await v1.register(callRoutes, { services });
      await v1.register(webhookRoutes, { services });
      await v1.register(consoleConfigRoutes, { services, console });
      await v1.register(provisioningRoutes, { services });
      await v1.register(auditRoutes, { services });
    },
    { prefix: "/v1.0" },
  );
  return app;
}
