// Webhook targets (CONTRACT §11): without SIPEXT_WEBHOOK_ALLOW_PRIVATE, loopback, private,
// link-local, unique-local and unspecified targets are refused when set (literal addresses and
// what names resolve to) and again at delivery time; and two nodes on one PostgreSQL database
// deliver each event once, in order.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Customer } from "../../src/contract/customer.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { acceptedEvents, createExtension, hook, logUntil } from "../helpers/webhook-api.js";
import { inOrderWithoutGaps, type Receiver, startReceiver } from "../helpers/webhook-receiver.js";

describe.each(DATABASES)("webhook targets on %s without SIPEXT_WEBHOOK_ALLOW_PRIVATE", (kind) => {
  let h: Harness;
  let rx: Receiver;
  let api: Client;

  beforeAll(async () => {
    rx = await startReceiver();
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
  });
  afterAll(async () => {
    await stopHarness(h);
    await rx?.close();
  });

  it.each([
    "http://127.0.0.1:8080/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://localhost:8080/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/hook",
    "http://[fd12:3456::1]/hook",
  ])("refuses %s with 400 naming webhook_uri", async (uri) => {
    const res = await api.put<{ error: { reason: string; message: string } }>("/v1.0/customer", {
      webhook_uri: uri,
    });
    expect(res.status).toBe(400);
    expect(res.body.error.reason).toBe("INVALID_WEBHOOK_URI");
    expect(res.body.error.message).toMatch(/^webhook_uri: .*not a public address/);
    expect((await api.get<Customer>("/v1.0/customer")).body.webhook_uri).toBe("");
  });

  it("accepts a public address", async () => {
    const res = await api.put<Customer>("/v1.0/customer", { webhook_uri: "https://203.0.113.10/hook" });
    expect(res.status).toBe(200);
    expect(res.body.webhook_uri).toBe("https://203.0.113.10/hook");
  });

  it.each([
    [
      "its address",
      (port: string) => `http://127.0.0.1:${port}/hook`,
      /^refused: 127\.0\.0\.1 is not a public address/,
    ],
    ["its host name", (port: string) => `http://localhost:${port}/hook`, /^refused: localhost resolves to /],
  ])(
    "refuses at delivery time a target whose %s has become private, and logs the attempt as failed",
    async (_, uri, error) => {
      // As if the host's DNS now answered 127.0.0.1: the stored target points there.
      await h.server.core.db.kysely
        .updateTable("customers")
        .set({ webhook_uri: uri(new URL(rx.url).port) })
        .where("id", "=", h.admin.customerId)
        .execute();
      const secret = await api.post<{ webhook_secret: string }>("/v1.0/customer/webhook-secret-regenerate");
      rx.secrets.set("/hook", h.secret(secret.body.webhook_secret));
      const before = (await logUntil(api, () => true)).length;
      const res = await api.post("/v1.0/extensions", {
        extension: `rebound${before}`,
        password: "Rebound-pass-1",
      });
      expect(res.status).toBe(200);
      const log = await logUntil(api, (rows) => rows.length > before);
      expect(log[0]).toMatchObject({ status: "failed", http_status: 0, type: "extension_created" });
      expect(log[0]?.error).toMatch(error);
      expect(rx.all).toHaveLength(0);
      await api.put("/v1.0/customer", { webhook_uri: "" });
    },
  );
});

describe.runIf(DATABASES.includes("postgres"))("webhooks from two nodes on one PostgreSQL database", () => {
  let a: Harness;
  let b: Harness;
  let rx: Receiver;

  beforeAll(async () => {
    rx = await startReceiver();
    a = await startHarness("postgres", { env: { SIPEXT_WEBHOOK_ALLOW_PRIVATE: "true" } });
    b = await startHarness("postgres", {
      env: { SIPEXT_WEBHOOK_ALLOW_PRIVATE: "true" },
      dataDir: a.dataDir,
      databaseUrl: a.databaseUrl as string,
    });
  });
  afterAll(async () => {
    await b?.close();
    await stopHarness(a);
    await rx?.close();
  });

  it("delivers each event once, in order, while both nodes make events", async () => {
    const onA = client(a.url, a.admin.token);
    const onB = client(b.url, a.admin.token);
    await hook(onA, a, rx, "/two");
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => createExtension(i % 2 ? onA : onB)));
    await rx.until(() => ids.every((id) => acceptedEvents(rx, "/two").some((e) => e.data.id === id)), 30_000);
    const got = acceptedEvents(rx, "/two");
    expect(inOrderWithoutGaps(got)).toHaveLength(30);
    // Exactly once: no receiver hiccup happened, so no event was sent twice by the two nodes.
    expect(got).toHaveLength(30);
    expect(rx.all.every((r) => r.signed)).toBe(true);
  });
});
