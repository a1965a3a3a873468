// Webhooks (CONTRACT §11): the customer's webhook set through PUT /v1.0/customer, its secret shown
// once, signed deliveries in seq order to a real HTTP receiver that verifies them, retries after
// failures, giving up after 24 h, the delivery log and tenant isolation. Private targets and two
// nodes: webhook-targets.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Customer } from "../../src/contract/customer.js";
import type { WebhookDelivery } from "../../src/contract/webhook.js";
import { systemClock } from "../../src/util/time.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import {
  acceptedEvents,
  createExtension,
  hook,
  type List,
  logUntil,
  otherTenant,
} from "../helpers/webhook-api.js";
import {
  type Envelope,
  inOrderWithoutGaps,
  type Receiver,
  startReceiver,
} from "../helpers/webhook-receiver.js";

const HOUR_US = 3600 * 1_000_000;

describe.each(DATABASES)("webhooks on %s", (kind) => {
  let h: Harness;
  let rx: Receiver;
  let api: Client;
  /** moves the server's clock (the 24 h window) without waiting */
  let shiftUs = 0;

  beforeAll(async () => {
    rx = await startReceiver();
    const base = systemClock();
    h = await startHarness(kind, {
      env: { SIPEXT_WEBHOOK_ALLOW_PRIVATE: "true" },
      clock: () => base() + shiftUs,
    });
    api = client(h.url, h.admin.token);
  });
  afterAll(async () => {
    await h?.assertNoPlaintextSecrets();
    await stopHarness(h);
    await rx?.close();
  });

  describe("settings", () => {
    it("shows webhook_method and webhook_uri on GET /v1.0/customer, empty until set", async () => {
      const res = await api.get<Customer>("/v1.0/customer");
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ webhook_method: "", webhook_uri: "", tm_update: "" });
      expect(res.body).not.toHaveProperty("webhook_secret");
    });

    it("sets, shows and clears the webhook with PUT /v1.0/customer; omitted fields keep their value", async () => {
      const put = await api.put<Customer>("/v1.0/customer", {
        webhook_method: "PUT",
        webhook_uri: "https://hooks.example.com/sipext?x=1",
        detail: "with a hook",
      });
      expect(put.status, JSON.stringify(put.body)).toBe(200);
      expect(put.body).toMatchObject({
        id: h.admin.customerId,
        webhook_method: "PUT",
        webhook_uri: "https://hooks.example.com/sipext?x=1",
        detail: "with a hook",
        name: "default",
      });
      expect(put.body.tm_update).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
      const name = await api.put<Customer>("/v1.0/customer", { name: "renamed" });
      expect(name.body).toMatchObject({ name: "renamed", webhook_method: "PUT", detail: "with a hook" });
      expect((await api.get<Customer>("/v1.0/customer")).body).toMatchObject(name.body);
      const cleared = await api.put<Customer>("/v1.0/customer", { webhook_method: "", webhook_uri: "" });
      expect(cleared.body).toMatchObject({ webhook_method: "", webhook_uri: "", name: "renamed" });
    });

    it.each([
      [{ webhook_method: "GET" }, "INVALID_WEBHOOK_METHOD"],
      [{ webhook_uri: "ftp://example.com/x" }, "INVALID_WEBHOOK_URI"],
      [{ webhook_uri: "/relative/path" }, "INVALID_WEBHOOK_URI"],
      [{ webhook_uri: "https://user:pw@example.com/x" }, "INVALID_WEBHOOK_URI"],
      [{ webhook_uri: "https://example.com/a b" }, "INVALID_WEBHOOK_URI"],
      [{ webhook_uri: 42 }, "INVALID_WEBHOOK_URI"],
      [{ email: "not an address" }, "INVALID_EMAIL"],
    ])("refuses %j with 400 naming the field", async (body, reason) => {
      const res = await api.put<{ error: { reason: string; message: string } }>("/v1.0/customer", body);
      expect(res.status).toBe(400);
      expect(res.body.error.reason).toBe(reason);
      expect(res.body.error.message).toContain(Object.keys(body)[0]);
    });

    it("lets only an admin change the webhook or draw a secret; a manager reads the delivery log", async () => {
      const password = h.secret("Manager-pass-1234");
      await h.server.core.services.tenants.createUser(h.admin.customerId, {
        username: `wh-mgr-${kind}`,
        password,
        role: "manager",
      });
      const login = await client(h.url).post<{ token: string }>("/auth/login", {
        username: `wh-mgr-${kind}`,
        password,
      });
      const mgr = client(h.url, h.secret(login.body.token));
      expect((await mgr.put("/v1.0/customer", { webhook_uri: "https://example.com/x" })).status).toBe(403);
      expect((await mgr.post("/v1.0/customer/webhook-secret-regenerate")).status).toBe(403);
      expect((await mgr.get("/v1.0/webhook-deliveries")).status).toBe(200);
      expect((await client(h.url).get("/v1.0/webhook-deliveries")).status).toBe(401);
    });

    it("shows the secret only in the regenerate answer, a new one each time, stored sealed", async () => {
      const a = await api.post<{ webhook_secret: string }>("/v1.0/customer/webhook-secret-regenerate");
      const b = await api.post<{ webhook_secret: string }>("/v1.0/customer/webhook-secret-regenerate");
      expect(a.status).toBe(200);
      expect(Object.keys(a.body)).toEqual(["webhook_secret"]);
      for (const s of [a.body.webhook_secret, b.body.webhook_secret]) {
        expect(s).toMatch(/^whsec_[A-Za-z0-9_-]{43,}$/);
        h.secret(s);
      }
      expect(a.body.webhook_secret).not.toBe(b.body.webhook_secret);
      const customer = await api.get("/v1.0/customer");
      expect(JSON.stringify(customer.body)).not.toContain("whsec_");
      // Neither secret is in the database or the logs in clear (checked again after the suite).
      await h.assertNoPlaintextSecrets();
    });
  });

  describe("delivery", () => {
    beforeAll(async () => {
      rx.answer = () => 200;
      await hook(api, h, rx, "/main");
    });

    it("delivers each event, signed, in seq order, with the envelope of GET /v1.0/events as the body", async () => {
      const ids = [await createExtension(api), await createExtension(api), await createExtension(api)];
      await rx.until(() => ids.every((id) => acceptedEvents(rx, "/main").some((e) => e.data.id === id)));
      const got = rx.accepted("/main");
      inOrderWithoutGaps(got.map((r) => r.event));
      for (const r of got) {
        expect(r.signed).toBe(true);
        expect(r.method).toBe("POST");
        expect(r.headers["content-type"]).toBe("application/json");
        expect(r.headers["x-sipext-event-id"]).toBe(r.event.id);
        expect(r.event.customer_id).toBe(h.admin.customerId);
      }
      const first = got[0]?.event.seq ?? 0;
      const page = await api.get<List<Envelope>>(`/v1.0/events?after=${first - 1}&page_size=${got.length}`);
      expect(got.map((r) => JSON.parse(r.body))).toEqual(page.body.result);
      expect(got.map((r) => r.event.type)).toEqual([
        "extension_created",
        "extension_created",
        "extension_created",
      ]);
      expect(JSON.stringify(got.map((r) => r.body))).not.toContain("Wh-pass-1234");
    });

    it("uses the method set, and a new secret at once", async () => {
      await hook(api, h, rx, "/main", "PUT");
      const id = await createExtension(api);
      await rx.until(() => acceptedEvents(rx, "/main").some((e) => e.data.id === id));
      const last = rx.accepted("/main").at(-1);
      expect(last).toMatchObject({ method: "PUT", signed: true });
      await hook(api, h, rx, "/main", "POST");
    });

    it("retries a receiver answering 500 with growing delays, then delivers in order without gaps", async () => {
      const before = rx.all.length;
      let failures = 0;
      rx.answer = () => (failures++ < 3 ? 500 : 200);
      const ids = [await createExtension(api), await createExtension(api)];
      await rx.until(
        () => ids.every((id) => acceptedEvents(rx, "/main").some((e) => e.data.id === id)),
        30_000,
      );
      const tries = rx.all.slice(before);
      // The first event three times refused, then accepted; the second never before the first.
      expect(tries.slice(0, 4).map((r) => [r.event.data.id, r.answered])).toEqual([
        [ids[0], 500],
        [ids[0], 500],
        [ids[0], 500],
        [ids[0], 200],
      ]);
      expect(tries.slice(4).map((r) => r.event.data.id)).toEqual([ids[1]]);
      inOrderWithoutGaps(acceptedEvents(rx, "/main"));

      // The log tells of each attempt, newest first, and pages without skipping or repeating.
      const log = await logUntil(api, (rows) => rows[0]?.event_id === tries[4]?.event.id, "?page_size=5");
      const [second, delivered, ...failed] = log;
      expect(second).toMatchObject({
        event_id: tries[4]?.event.id,
        status: "delivered",
        http_status: 200,
        error: "",
      });
      expect(delivered).toMatchObject({
        event_id: tries[0]?.event.id,
        status: "delivered",
        type: "extension_created",
      });
      expect(failed.map((d) => [d.status, d.http_status, d.error])).toEqual([
        ["failed", 500, "HTTP 500"],
        ["failed", 500, "HTTP 500"],
        ["failed", 500, "HTTP 500"],
      ]);
      expect(delivered?.event_seq).toBe(tries[0]?.event.seq);
      // 1 s, then 2 s between the failed attempts.
      const at = [...failed].reverse().map((d) => Date.parse(`${d.tm_create.replace(" ", "T")}Z`));
      expect((at[1] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(900);
      expect((at[2] ?? 0) - (at[1] ?? 0)).toBeGreaterThanOrEqual(1900);
      const all: WebhookDelivery[] = [];
      let token = "";
      for (;;) {
        const p = await api.get<List<WebhookDelivery>>(
          `/v1.0/webhook-deliveries?page_size=2&page_token=${token}`,
        );
        if (p.body.result.length === 0) break;
        all.push(...p.body.result);
        token = encodeURIComponent(p.body.next_page_token);
      }
      expect(new Set(all.map((d) => d.id)).size).toBe(all.length);
      const every = await api.get<List<WebhookDelivery>>("/v1.0/webhook-deliveries");
      expect(all).toEqual(every.body.result);
      rx.answer = () => 200;
    });

    it("counts a refused connection as a failed attempt with http_status 0; a new URI is tried at once", async () => {
      await api.put("/v1.0/customer", { webhook_uri: "http://127.0.0.1:1/closed" });
      const id = await createExtension(api);
      // Three failures (after 1 s and 2 s): the next try would come 4 s later.
      const log = await logUntil(
        api,
        (rows) => rows.filter((r) => r.http_status === 0).length >= 3,
        "?page_size=3",
      );
      for (const d of log) {
        expect(d).toMatchObject({ status: "failed", http_status: 0 });
        expect(d.error).toMatch(/ECONNREFUSED/);
      }
      const changedAt = Date.now();
      await api.put("/v1.0/customer", { webhook_uri: `${rx.url}/main` });
      await rx.until(() => acceptedEvents(rx, "/main").some((e) => e.data.id === id));
      expect(Date.now() - changedAt).toBeLessThan(3_000);
      inOrderWithoutGaps(acceptedEvents(rx, "/main"));
    });

    it("gives an event up 24 h after its first attempt, and goes on with the next", async () => {
      const doomed = await createExtension(api);
      rx.answer = (r) => (r.event.data.id === doomed ? 503 : 200);
      await rx.until(() => rx.all.filter((r) => r.event.data.id === doomed).length >= 2);
      shiftUs += 25 * HOUR_US;
      const next = await createExtension(api);
      await rx.until(() => acceptedEvents(rx, "/main").some((e) => e.data.id === next), 15_000);
      const log = await api.get<List<WebhookDelivery>>("/v1.0/webhook-deliveries?page_size=20");
      const doomedEvent = rx.all.find((r) => r.event.data.id === doomed)?.event;
      const mine = log.body.result.filter((d) => d.event_id === doomedEvent?.id);
      expect(mine[0]).toMatchObject({ status: "given_up", http_status: 503 });
      expect(mine.slice(1).every((d) => d.status === "failed")).toBe(true);
      expect(rx.accepted().some((r) => r.event.data.id === doomed)).toBe(false);
      const cursorSeqs = acceptedEvents(rx, "/main").map((e) => e.seq);
      expect(cursorSeqs).toContain((doomedEvent?.seq ?? 0) + 1);
      rx.answer = () => 200;
    });

    it("delivers each customer's events to its own webhook only, and logs them apart", async () => {
      const other = await otherTenant(h, `wh-other-${kind}`);
      await hook(other.api, h, rx, "/other");
      const theirs = await createExtension(other.api);
      const mine = await createExtension(api);
      await rx.until(
        () =>
          acceptedEvents(rx, "/other").some((e) => e.data.id === theirs) &&
          acceptedEvents(rx, "/main").some((e) => e.data.id === mine),
      );
      expect(acceptedEvents(rx, "/other").every((e) => e.customer_id === other.customerId)).toBe(true);
      expect(acceptedEvents(rx, "/main").every((e) => e.customer_id === h.admin.customerId)).toBe(true);
      // Each customer's seq starts at its own 1.
      expect(acceptedEvents(rx, "/other").map((e) => e.seq)).toEqual([1]);
      const theirLog = await logUntil(other.api, (rows) => rows.length > 0);
      expect(theirLog.map((d) => d.customer_id)).toEqual([other.customerId]);
      const myLog = await api.get<List<WebhookDelivery>>("/v1.0/webhook-deliveries");
      expect(myLog.body.result.every((d) => d.customer_id === h.admin.customerId)).toBe(true);
    });

    it("stops delivering when the webhook is cleared, and starts after the events of that moment when set again", async () => {
      await api.put("/v1.0/customer", { webhook_uri: "" });
      const before = rx.all.length;
      const unseen = await createExtension(api);
      await new Promise((f) => setTimeout(f, 1_500));
      expect(rx.all.length).toBe(before);
      await api.put("/v1.0/customer", { webhook_uri: `${rx.url}/main` });
      const seen = await createExtension(api);
      await rx.until(() => acceptedEvents(rx, "/main").some((e) => e.data.id === seen));
      expect(rx.all.some((r) => r.event.data.id === unseen)).toBe(false);
    });
  });
});
