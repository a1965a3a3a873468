// API rate limits (CONTRACT §17) over real HTTP: a client over its address's limit gets 429
// RESOURCE_EXHAUSTED in the VoIPbin error shape with Retry-After and limited_by "ip", and gets
// through once it has waited that long; the customer's limit holds across two addresses (told
// apart through X-Forwarded-For from a trusted proxy, SIPEXT_TRUST_PROXY); and two nodes on one
// PostgreSQL schema share a customer's budget over the deployment bus.
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  newSchemaUrl,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";

interface Refusal {
  error: {
    status: string;
    reason: string;
    message: string;
    request_id: string;
    details: Array<{ limited_by: string }>;
  };
}

/** Sends GET /v1.0/me until the first refusal (at most `max` requests); returns how many passed and it. */
async function untilRefused(api: Client, max: number, headers: Record<string, string> = {}) {
  for (let passed = 0; passed < max; passed++) {
    const res = await api.get<Refusal>("/v1.0/me", headers);
    if (res.status === 429) return { passed, res };
    expect(res.status).toBe(200);
  }
  throw new Error(`no 429 after ${max} requests`);
}

describe.each(DATABASES)("API rate limits on %s", (kind) => {
  const harnesses: Harness[] = [];
  const start = async (env: Record<string, string>) => {
    const h = await startHarness(kind, { env });
    harnesses.push(h);
    return h;
  };
  afterAll(async () => {
    for (const h of harnesses) await stopHarness(h);
  });

  it("answers 429 with Retry-After and limited_by ip past an address's burst, then lets it through", async () => {
    // 5/s, bursts of 10 (the harness's login took one).
    const h = await start({ SIPEXT_RATE_LIMIT_IP: "5", SIPEXT_RATE_LIMIT_CUSTOMER: "0" });
    const api = client(h.url, h.admin.token);
    const { passed, res } = await untilRefused(api, 40);
    expect(passed).toBeGreaterThanOrEqual(8);
    expect(passed).toBeLessThanOrEqual(12);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("x-request-id")).toBe(res.body.error.request_id);
    expect(res.body.error).toMatchObject({ status: "RESOURCE_EXHAUSTED", reason: "RATE_LIMITED" });
    expect(res.body.error.details[0]?.limited_by).toBe("ip");
    expect(res.body.error.message).toMatch(/5\/s/);
    // Unauthenticated requests count too: the address is limited before its credential is read.
    // A token comes back every 200 ms: on a slow machine one or two may have, and get a 401 (CI).
    const anon = client(h.url);
    const answers: number[] = [];
    while (answers.at(-1) !== 429 && answers.length < 10) answers.push((await anon.get("/v1.0/me")).status);
    expect(answers.at(-1)).toBe(429);
    expect(answers.filter((st) => st === 401).length).toBeLessThanOrEqual(3);
    await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after")) * 1000));
    expect((await api.get("/v1.0/me")).status).toBe(200);
  });

  it("holds a customer's limit across two addresses (X-Forwarded-For from a trusted proxy)", async () => {
    const h = await start({
      SIPEXT_RATE_LIMIT_IP: "6",
      SIPEXT_RATE_LIMIT_CUSTOMER: "10",
      SIPEXT_TRUST_PROXY: "127.0.0.1",
    });
    const api = client(h.url, h.admin.token);
    const from = (address: string) => ({ "x-forwarded-for": address });
    // Each address alone stays under its own burst (12); together they pass the customer's (20).
    let passed = 0;
    let refusal: Refusal | undefined;
    for (let i = 0; i < 40 && !refusal; i++) {
      const res = await api.get<Refusal>("/v1.0/me", from(i % 2 === 0 ? "203.0.113.1" : "203.0.113.2"));
      if (res.status === 429) refusal = res.body;
      else passed++;
    }
    expect(refusal?.error.details[0]?.limited_by).toBe("customer");
    expect(passed).toBeGreaterThanOrEqual(18);
    expect(passed).toBeLessThanOrEqual(24);
    // A third address of no customer (no credential) is limited by its own bucket only.
    expect((await client(h.url).get("/v1.0/me", from("203.0.113.3"))).status).toBe(401);
  });
});

describe.runIf(DATABASES.includes("postgres"))("API rate limits of two nodes on one PostgreSQL", () => {
  const SHARED = {
    SIPEXT_JWT_SECRET: randomBytes(32).toString("hex"),
    SIPEXT_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
    SIPEXT_RATE_LIMIT_IP: "0",
    // 1/s, bursts of 2: what node A lets through, node B then refuses.
    SIPEXT_RATE_LIMIT_CUSTOMER: "1",
  };
  let a: Harness | undefined;
  let b: Harness | undefined;
  afterAll(async () => {
    await b?.close();
    await stopHarness(a);
  });

  it("shares the customer's budget: what one node let through, the other refuses", async () => {
    const databaseUrl = newSchemaUrl();
    a = await startHarness("postgres", { databaseUrl, env: SHARED });
    b = await startHarness("postgres", { databaseUrl, env: SHARED });
    const apiA = client(a.url, a.admin.token);
    const apiB = client(b.url, a.admin.token);
    expect((await apiA.get("/v1.0/me")).status).toBe(200);
    expect((await apiA.get("/v1.0/me")).status).toBe(200);
    // Node A tells within ~100 ms; B's bucket, full until then, is drained by it.
    await new Promise((r) => setTimeout(r, 250));
    const res = await apiB.get<Refusal>("/v1.0/me");
    expect(res.status).toBe(429);
    expect(res.body.error.details[0]?.limited_by).toBe("customer");
    await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after")) * 1000));
    expect((await apiB.get("/v1.0/me")).status).toBe(200);
  });
});
