// GET /metrics in Prometheus' text format (CONTRACT §12), and the HTTP families counted for every
// request once it is answered: by route pattern (never the URL, whose ids would make a series per
// resource) and status class. Open unless SIPEXT_METRICS_TOKEN is set; then only
// `Authorization: Bearer <token>`, compared in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { DomainError } from "../domain/errors.js";
import type { Metrics } from "../metrics.js";

export interface MetricsOptions {
  metrics: Metrics;
  /** SIPEXT_METRICS_TOKEN: when set, a scrape must present it as a bearer token */
  token: string | undefined;
  /** The text to serve; this process's registry unless told otherwise (SIPEXT_WORKERS). */
  scrape?: () => Promise<string>;
}

/** The route label of a request Fastify matched none of (a 404): one series, not one per URL. */
const UNMATCHED = "unmatched";
const CLASSES = ["1xx", "1xx", "2xx", "3xx", "4xx", "5xx"];

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(header ?? "")?.[1] ?? "";
  return timingSafeEqual(digest(given), digest(token)) && given !== "";
}

/** Counts every answered request; call on the root instance, before the routes. */
export function countHttpRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? UNMATCHED;
    const code = reply.statusCode;
    metrics.httpRequests.inc({ route, code_class: CLASSES[Math.floor(code / 100)] ?? "5xx" });
    metrics.httpDuration.observe({ route }, reply.elapsedTime / 1000);
  });
}

export async function metricsRoutes(app: FastifyInstance, o: MetricsOptions): Promise<void> {
  const scrape = o.scrape ?? (() => o.metrics.registry.metrics());
  app.get("/metrics", { schema: { hide: true } }, async (req, reply) => {
    if (o.token !== undefined && !bearerMatches(req.headers.authorization, o.token)) {
      reply.header("www-authenticate", 'Bearer realm="metrics"');
      const missing = req.headers.authorization === undefined;
      throw new DomainError(
        "UNAUTHENTICATED",
        missing ? "AUTHENTICATION_REQUIRED" : "INVALID_CREDENTIALS",
        missing
          ? "authorization: metrics need Authorization: Bearer <SIPEXT_METRICS_TOKEN>"
          : "authorization: not the metrics token",
      );
    }
    reply.header("content-type", o.metrics.registry.contentType);
    return scrape();
  });
}
