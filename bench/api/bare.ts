// The reference: a bare Fastify 5 server answering the benchmarked method + path pairs with fixed
// extension-shaped JSON — one object, and for the list a page of 100 distinct ones (what sipext's
// page holds, serialized on every request as sipext serializes its page): no auth, no validation,
// no database, no serializer schema.
// Usage: node --import tsx bench/api/bare.ts  → prints {"httpPort":N} once listening.
import Fastify from "fastify";

const EXTENSION = {
  id: "5e9c3f0a-6a4e-4b8e-9c1d-2f0b7a6e4d31",
  customer_id: "0b1e3c5a-7d9f-4e2b-8a6c-1f3d5b7e9a02",
  name: "bench",
  detail: "bare route reference",
  domain_id: "7c2a4e6b-8d0f-4a1c-9e3b-5d7f9b1c3e04",
  extension: "bench-1000",
  domain_name: "0b1e3c5a-7d9f-4e2b-8a6c-1f3d5b7e9a02.registrar.localhost",
  username: "bench-1000",
  password: "b3nch-Passw0rd",
  direct_hash: "f7e8d9c0b1a2",
  tm_create: "2024-01-01 00:00:00.000000",
  tm_update: "",
  tm_delete: "",
};

/** A page as sipext's GET /v1.0/extensions?page_size=100 has it: 100 items and the next token. */
const PAGE = {
  result: Array.from({ length: 100 }, (_, i) => ({
    ...EXTENSION,
    id: `5e9c3f0a-6a4e-4b8e-9c1d-${i.toString(16).padStart(12, "0")}`,
    name: `bench ${i}`,
    extension: `bench-${1000 + i}`,
    username: `bench-${1000 + i}`,
    tm_create: `2024-01-01 00:00:00.${i.toString().padStart(6, "0")}`,
  })),
  next_page_token: "2024-01-01 00:00:00.000000",
};

const app = Fastify({ logger: false });
app.get("/v1.0/extensions/:id", async () => EXTENSION);
app.get("/v1.0/extensions", async () => PAGE);
app.post("/v1.0/extensions", async () => EXTENSION);

await app.listen({ host: "127.0.0.1", port: 0 });
const address = app.server.address();
const httpPort = typeof address === "object" && address ? address.port : 0;
process.stdout.write(`${JSON.stringify({ httpPort })}\n`);

// Exit normally on a signal, so that `node --cpu-prof` can write its profile.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));
