// The operator's metrics (CONTRACT §12): one prom-client registry per process with Node's own
// process metrics (event-loop lag, heap, GC) and the families more than one side adds to. The SIP
// families live in adapters/sip-metrics.ts (the SIP core meets them through its observer), the
// HTTP ones are filled by api/metrics.ts. Every label is bounded: no extension, address or URL.
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export type AuthFailureKind = "register" | "invite" | "login";
export type WebhookDeliveryResult = "delivered" | "failed" | "given_up";

export interface Metrics {
  registry: Registry;
  /** failed digest answers (register, invite: every other method) and failed logins */
  authFailures: Counter<"kind">;
  /** webhook attempts by what became of them (CONTRACT §11) */
  webhookDeliveries: Counter<"result">;
  /** HTTP requests by route pattern (not URL) and status class */
  httpRequests: Counter<"route" | "code_class">;
  httpDuration: Histogram<"route">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    authFailures: new Counter({
      name: "sipext_auth_failures_total",
      help: "Failed authentications: digest answers to REGISTER (register) and to other requests (invite), and failed API logins (login)",
      labelNames: ["kind"],
      registers,
    }),
    webhookDeliveries: new Counter({
      name: "sipext_webhook_deliveries_total",
      help: "Webhook delivery attempts by result (delivered, failed: to be retried, given_up)",
      labelNames: ["result"],
      registers,
    }),
    httpRequests: new Counter({
      name: "sipext_http_requests_total",
      help: "HTTP requests answered, by route pattern and status class",
      labelNames: ["route", "code_class"],
      registers,
    }),
    httpDuration: new Histogram({
      name: "sipext_http_request_duration_seconds",
      help: "Time from an HTTP request's arrival to its response, by route pattern",
      labelNames: ["route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}
