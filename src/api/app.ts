// The HTTP API as one Fastify instance: plugins, error mapping, OpenAPI and the resource routes.
import { randomUUID } from "node:crypto";
import cookie from "@fastify/cookie";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { authenticator } from "./plugins/auth.js";
import { frameworkError, registerErrorHandling } from "./plugins/errors.js";
import { accessKeyRoutes } from "./routes/accesskeys.js";
import { authRoutes } from "./routes/auth.js";
import { contactRoutes } from "./routes/contacts.js";
import { domainRoutes } from "./routes/domains.js";
import { extensionRoutes } from "./routes/extensions.js";
import { identityRoutes } from "./routes/identity.js";
import { ErrorBody } from "./schemas.js";
import type { ApiServices } from "./services.js";

export const BODY_LIMIT = 64 * 1024;
const REQUEST_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface AppOptions {
  services: ApiServices;
  logger: FastifyBaseLogger;
}

/** Credentials in query strings must never reach the logs. */
export const redactUrl = (url: string) => url.replace(/([?&](?:token|accesskey)=)[^&#]*/gi, "$1[redacted]");

export async function buildApp({ services, logger }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
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
  await app.register(swagger, {
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

  await app.register(authRoutes, { services });
  const authenticate = authenticator(services.auth);
  await app.register(
    async (v1) => {
      v1.decorateRequest("principal", undefined);
      // onRequest: a caller without credentials hears 401 before anything about its body.
      v1.addHook("onRequest", authenticate);
      await v1.register(identityRoutes, { services });
      await v1.register(domainRoutes, { services });
      await v1.register(accessKeyRoutes, { services });
      await v1.register(extensionRoutes, { services });
      await v1.register(contactRoutes, { services });
    },
    { prefix: "/v1.0" },
  );
  return app;
}
