// CONTRACT §12 as an operator meets it: health probes without credentials, readiness that names
// what is down (a closed SIP listener, a database that stopped answering), Prometheus metrics
// behind SIPEXT_METRICS_TOKEN that move when a real UDP phone registers or guesses, when a login
// fails and when HTTP requests are answered (by route pattern, never the URL), and one log line
// per HTTP request with credentials redacted.
import { randomBytes, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { answerTo, RawPhone } from "../e2e/raw-phone.js";
import {
  client,
  DATABASES,
  dropSchema,
  type Harness,
  removeDir,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { createExtension, hook } from "../helpers/webhook-api.js";
import { startReceiver } from "../helpers/webhook-receiver.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, one sample per line (comments skipped). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ""] = l[2] ?? "";
    out.push({ name: m[1] ?? "", labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` with these labels (0 when there is none yet). */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const hit = samples(text).find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hit?.value ?? 0;
}

const FAMILIES = [
  "sipext_sip_requests_received_total",
  "sipext_sip_responses_sent_total",
  "sipext_registrations_total",
  "sipext_bindings",
  "sipext_calls_total",
  "sipext_calls_active",
  "sipext_auth_failures_total",
  "sipext_sip_dropped_total",
  "sipext_sip_bans",
  "sipext_webhook_deliveries_total",
  "sipext_http_requests_total",
  "sipext_http_request_duration_seconds",
  // Node's own (prom-client's default metrics): event-loop lag, heap, GC.
  "nodejs_eventloop_lag_seconds",
  "nodejs_heap_size_used_bytes",
  "nodejs_gc_duration_seconds",
];

describe.each(DATABASES)("operating sipext on %s", (kind) => {
  let h: Harness;
  const metricsToken = `mt-${randomBytes(12).toString("hex")}`;
  const scrape = async () => {
    const res = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(res.status).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    h = await startHarness(kind, {
      env: { SIPEXT_METRICS_TOKEN: metricsToken, SIPEXT_WEBHOOK_ALLOW_PRIVATE: "true" },
    });
    h.secret(metricsToken);
  });
  afterAll(() => stopHarness(h));

  it("answers /health/live and /health/ready without credentials", async () => {
    const live = await fetch(`${h.url}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${h.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ok", failing: [] });
  });

  it("serves /metrics only with SIPEXT_METRICS_TOKEN as a bearer token", async () => {
    const none = await fetch(`${h.url}/metrics`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { reason: string } }).error.reason).toBe(
      "AUTHENTICATION_REQUIRED",
    );
    const wrong = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}x` } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { reason: string } }).error.reason).toBe("INVALID_CREDENTIALS");
    const res = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const family of FAMILIES) expect(text, family).toContain(`# TYPE ${family} `);
    expect(text).toContain("# TYPE sipext_http_request_duration_seconds histogram");
  });

  it("counts a real UDP phone's registration, its bindings, and a wrong password", async () => {
    const ext = `ops${randomBytes(3).toString("hex")}`;
    const password = h.secret(`Pw-${randomBytes(8).toString("hex")}`);
    const api = client(h.url, h.admin.token);
    expect((await api.post("/v1.0/extensions", { extension: ext, password })).status).toBe(200);
    const before = await scrape();
    const phone = await RawPhone.open({
      sipPort: h.server.sip.port,
      domain: h.admin.domainName,
      ext,
      password,
    });
    const guesser = await RawPhone.open({
      sipPort: h.server.sip.port,
      domain: h.admin.domainName,
      ext,
      password: "not-the-password",
    });
    try {
      expect(await phone.registerWithDigest()).toMatch(/^SIP\/2\.0 200 /);
      expect(await guesser.registerWithDigest()).toMatch(/^SIP\/2\.0 401 /);
      // A method nobody knows is counted as "other": a guesser cannot mint new series.
      guesser.send(
        [
          `FROBNICATE sip:${h.admin.domainName} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${guesser.port};branch=z9hG4bK-${randomBytes(4).toString("hex")};rport`,
          "Max-Forwards: 70",
          `From: <sip:${ext}@${h.admin.domainName}>;tag=f1`,
          `To: <sip:${ext}@${h.admin.domainName}>`,
          `Call-ID: ${randomUUID()}`,
          "CSeq: 1 FROBNICATE",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n"),
      );
      await guesser.next((m) => m.startsWith("SIP/2.0 405 "));
    } finally {
      await phone.close();
      await guesser.close();
    }
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      value(after, name, labels) - value(before, name, labels);
    expect(delta("sipext_registrations_total", { result: "ok" })).toBe(1);
    // Each phone's first REGISTER is challenged, and the guesser's answer too.
    expect(delta("sipext_registrations_total", { result: "unauthorized" })).toBe(3);
    expect(delta("sipext_bindings")).toBe(1);
    expect(delta("sipext_auth_failures_total", { kind: "register" })).toBe(1);
    expect(delta("sipext_sip_requests_received_total", { method: "REGISTER", transport: "UDP" })).toBe(4);
    expect(delta("sipext_sip_responses_sent_total", { method: "REGISTER", code_class: "2xx" })).toBe(1);
    expect(delta("sipext_sip_responses_sent_total", { method: "REGISTER", code_class: "4xx" })).toBe(3);
    expect(delta("sipext_sip_requests_received_total", { method: "other", transport: "UDP" })).toBe(1);
    expect(delta("sipext_sip_responses_sent_total", { method: "other", code_class: "4xx" })).toBe(1);
    expect(after).not.toContain("FROBNICATE");
    // Bounded labels: no extension, address or domain in any series.
    expect(after).not.toContain(ext);
    expect(after).not.toContain(h.admin.domainName);
    expect(after).not.toContain("127.0.0.1");
  });

  it("counts a call through the proxy: active while it rings, then ended busy", async () => {
    const ext = `opc${randomBytes(3).toString("hex")}`;
    const password = h.secret(`Pw-${randomBytes(8).toString("hex")}`);
    const api = client(h.url, h.admin.token);
    const created = await api.post("/v1.0/extensions", { extension: ext, password });
    expect(created.status).toBe(200);
    const sipPort = h.server.sip.port;
    const callee = await RawPhone.open({ sipPort, domain: h.admin.domainName, ext, password });
    const caller = await RawPhone.open({ sipPort, domain: h.admin.domainName, ext: "caller", password: "x" });
    try {
      expect(await callee.registerWithDigest()).toMatch(/^SIP\/2\.0 200 /);
      const before = await scrape();
      const uri = `sip:direct.${created.body.direct_hash as string}@${h.config.directDomain}`;
      caller.send(
        [
          `INVITE ${uri} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-${randomBytes(4).toString("hex")};rport`,
          "Max-Forwards: 70",
          "From: <sip:someone@example.net>;tag=f1",
          `To: <${uri}>`,
          `Call-ID: ${randomUUID()}@ops`,
          "CSeq: 1 INVITE",
          `Contact: <sip:someone@127.0.0.1:${caller.port}>`,
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n"),
      );
      const invite = await callee.next((m) => m.startsWith("INVITE "));
      const ringing = await scrape();
      expect(value(ringing, "sipext_calls_active") - value(before, "sipext_calls_active")).toBe(1);
      callee.send(answerTo(invite, "486 Busy Here", "busy"));
      await caller.next((m) => m.startsWith("SIP/2.0 486 "));
      // The end is counted once its record is written.
      const busy = (t: string) => value(t, "sipext_calls_total", { result: "busy" });
      let after = await scrape();
      for (let i = 0; i < 50 && busy(after) === busy(before); i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await scrape();
      }
      expect(busy(after) - busy(before)).toBe(1);
      expect(value(after, "sipext_calls_active") - value(before, "sipext_calls_active")).toBe(0);
      const invites = (t: string) =>
        value(t, "sipext_sip_requests_received_total", { method: "INVITE", transport: "UDP" });
      expect(invites(after) - invites(before)).toBe(1);
    } finally {
      await callee.close();
      await caller.close();
    }
  });

  it("counts a failed login as an auth failure of kind login", async () => {
    const before = await scrape();
    const res = await fetch(`${h.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: h.admin.username, password: "wrong-password" }),
    });
    expect(res.status).toBe(401);
    const after = await scrape();
    expect(
      value(after, "sipext_auth_failures_total", { kind: "login" }) -
        value(before, "sipext_auth_failures_total", { kind: "login" }),
    ).toBe(1);
  });

  it("counts webhook attempts by result: a 500 is failed, its retry delivered", async () => {
    const rx = await startReceiver();
    try {
      const api = client(h.url, h.admin.token);
      let answers = 0;
      rx.answer = () => (answers++ === 0 ? 500 : 200);
      await hook(api, h, rx, "/ops");
      const before = await scrape();
      await createExtension(api);
      await rx.until(() => rx.accepted("/ops").length === 1, 20_000, "the retried delivery");
      // The server logs (and counts) the attempt a moment after the receiver answered it.
      let after = await scrape();
      const delivered = () =>
        value(after, "sipext_webhook_deliveries_total", { result: "delivered" }) -
        value(before, "sipext_webhook_deliveries_total", { result: "delivered" });
      for (let i = 0; i < 50 && delivered() < 1; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await scrape();
      }
      expect(delivered()).toBe(1);
      expect(
        value(after, "sipext_webhook_deliveries_total", { result: "failed" }) -
          value(before, "sipext_webhook_deliveries_total", { result: "failed" }),
      ).toBe(1);
    } finally {
      await rx.close();
    }
  });

  it("counts HTTP requests by route pattern and status class, never by URL", async () => {
    const labels = { route: "/v1.0/extensions/:id", code_class: "4xx" };
    const before = await scrape();
    const id = randomUUID();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${h.url}/v1.0/extensions/${id}`, {
        headers: { authorization: `Bearer ${h.admin.token}` },
      });
      expect(res.status).toBe(404);
    }
    const after = await scrape();
    expect(
      value(after, "sipext_http_requests_total", labels) -
        value(before, "sipext_http_requests_total", labels),
    ).toBe(3);
    const count = (t: string) =>
      value(t, "sipext_http_request_duration_seconds_count", { route: "/v1.0/extensions/:id" });
    expect(count(after) - count(before)).toBe(3);
    expect(after).not.toContain(id);
  });

  it("logs one line per HTTP request, with query credentials redacted", async () => {
    const marker = `m${randomBytes(6).toString("hex")}`;
    const credential = h.secret(`qs-${randomBytes(10).toString("hex")}`);
    const n = 5;
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${h.url}/v1.0/extensions?token=${credential}&marker=${marker}&i=${i}`);
      expect(res.status).toBe(401);
    }
    const lines = h
      .logs()
      .split("\n")
      .filter((l) => l.includes(marker));
    expect(lines).toHaveLength(n);
    for (const line of lines) {
      const rec = JSON.parse(line) as Record<string, unknown>;
      expect(rec).toMatchObject({ msg: "request", method: "GET", route: "/v1.0/extensions", status: 401 });
      expect(typeof rec.ms).toBe("number");
      expect(rec.url).toContain("token=[redacted]");
    }
    expect(h.logs()).not.toContain(credential);
    expect(h.logs()).not.toContain("incoming request");
    expect(h.logs()).not.toContain("request completed");
    await h.assertNoPlaintextSecrets();
  });
});

describe.each(DATABASES)("readiness on %s when parts stop", (kind) => {
  let h: Harness | undefined;
  afterAll(async () => {
    // The database was taken away under the server: its stop may fail to write; that is the point.
    await h?.close().catch(() => undefined);
    await dropSchema(h?.databaseUrl);
    if (h) removeDir(h.dataDir);
  });

  it("names the closed SIP listeners, then the database that stopped answering; /metrics is open without a token", async () => {
    h = await startHarness(kind);
    const open = await fetch(`${h.url}/metrics`);
    expect(open.status).toBe(200);
    expect(await open.text()).toContain("sipext_registrations_total");
    await h.server.sip.close();
    const noSip = await fetch(`${h.url}/health/ready`);
    expect(noSip.status).toBe(503);
    expect(await noSip.json()).toEqual({ status: "unavailable", failing: ["sip_udp", "sip_tcp"] });
    if (kind === "postgres") await dropSchema(h.databaseUrl);
    else await h.server.core.db.close();
    const noDb = await fetch(`${h.url}/health/ready`);
    expect(noDb.status).toBe(503);
    expect(((await noDb.json()) as { failing: string[] }).failing).toContain("database");
    // Liveness is about the process, not its parts.
    expect((await fetch(`${h.url}/health/live`)).status).toBe(200);
  });
});

describe("SIPEXT_LOG_FORMAT and SIPEXT_METRICS_TOKEN", () => {
  it("refuses other formats and short tokens, naming the variable", () => {
    expect(() => loadConfig({ SIPEXT_LOG_FORMAT: "xml" })).toThrow(ConfigError);
    expect(() => loadConfig({ SIPEXT_LOG_FORMAT: "xml" })).toThrow(/SIPEXT_LOG_FORMAT/);
    expect(() => loadConfig({ SIPEXT_METRICS_TOKEN: "short" })).toThrow(/SIPEXT_METRICS_TOKEN/);
    expect(loadConfig({}).logFormat).toBe("json");
    expect(loadConfig({ SIPEXT_LOG_FORMAT: "pretty" }).logFormat).toBe("pretty");
  });

  it("pretty writes readable lines, not JSON", async () => {
    let text = "";
    const sink = new Writable({
      write(chunk, _enc, done) {
        text += chunk.toString();
        done();
      },
    });
    createLogger("info", sink, "pretty").info({ httpPort: 8080 }, "sipext API listening");
    expect(text).toContain("sipext API listening");
    expect(text).toMatch(/INFO/);
    expect(() => JSON.parse(text)).toThrow();
  });
});
