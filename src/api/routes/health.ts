// Health probes for load balancers and orchestrators (CONTRACT §12): liveness says the process
// answers at all; readiness says it can serve — the database answers and every listener is bound.
// Neither needs credentials, and neither says more than which part is not ready.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";

const Live = Type.Object({ status: Type.Literal("ok") }, { description: "The process runs" });
const readiness = {
  status: Type.Union([Type.Literal("ok"), Type.Literal("unavailable")]),
  /** what is not ready: "database", "http", "https", "sip_udp", "sip_tcp", "sip_tls", "stopping" */
  failing: Type.Array(Type.String()),
};
const Ready = Type.Object(readiness, {
  description: "Ready to serve: the database answers, every listener is bound",
});
const NotReady = Type.Object(readiness, { description: "Not ready: `failing` names what is not" });

export interface HealthOptions {
  /** The parts not ready now; empty when the server can serve. */
  notReady(): Promise<string[]>;
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { notReady }) => {
  app.get(
    "/health/live",
    {
      schema: {
        tags: ["operations"],
        summary: "Liveness: 200 while the process runs",
        response: { 200: Live },
      },
    },
    async () => ({ status: "ok" as const }),
  );
  app.get(
    "/health/ready",
    {
      schema: {
        tags: ["operations"],
        summary:
          "Readiness: 200 when the database answers and every listener is bound, else 503 naming what is not",
        response: { 200: Ready, 503: NotReady },
      },
    },
    async (_req, reply) => {
      const failing = await notReady();
      reply.header("cache-control", "no-store");
      if (failing.length === 0) return { status: "ok" as const, failing };
      return reply.code(503).send({ status: "unavailable" as const, failing });
    },
  );
};
