// The console as HTTP serves it (src/api/routes/console.ts), without a browser: the page and its
// files with their types, cache validators and security headers; JsSIP as an ES module for the web
// phone; POST /auth/logout; GET /v1.0/console-config and who may read it. (./console.test.ts drives
// the console itself in Chromium.)
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_DIR, JSSIP_MISSING, jssipModule, loadAssets } from "../../src/api/console-assets.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";

describe("the console's files", () => {
  it("are read with their content types, by path below the folder, and nothing else", () => {
    const dir = mkdtempSync(join(tmpdir(), "sipext-console-"));
    mkdirSync(join(dir, "vendor"));
    writeFileSync(join(dir, "index.html"), "<!doctype html>");
    writeFileSync(join(dir, "vendor", "x.js"), "export default 1;");
    writeFileSync(join(dir, "notes.txt"), "not served");
    const assets = loadAssets(dir);
    expect([...assets.keys()].sort()).toEqual(["index.html", "vendor/x.js"]);
    expect(assets.get("vendor/x.js")?.type).toBe("text/javascript; charset=utf-8");
    expect(assets.get("index.html")?.etag).toMatch(/^"[\w-]{22}"$/);
  });

  it("JsSIP: bundled when esbuild can, else the vendored bundle, else a message saying how to get one", async () => {
    const bundled = await jssipModule(undefined, async () => "export default 1;");
    expect(bundled).toMatchObject({ ok: true, from: "esbuild" });
    const cannot = async () => {
      throw new Error("Cannot find package 'esbuild'");
    };
    const vendored = loadAssets(CONSOLE_DIR).get("app.js");
    expect(await jssipModule(vendored, cannot)).toMatchObject({ ok: true, from: "vendor", asset: vendored });
    const none = await jssipModule(undefined, cannot);
    expect(none).toEqual({ ok: false, why: `${JSSIP_MISSING} (Cannot find package 'esbuild')` });
    expect(JSSIP_MISSING).toContain("npm run build:console");
  });
});

describe.each(DATABASES)("the console over HTTP on %s", (kind) => {
  let h: Harness;
  let api: Client;
  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
  });
  afterAll(() => stopHarness(h));

  it("serves the page at / with a strict Content-Security-Policy, and its files revalidated by ETag", async () => {
    const page = await fetch(`${h.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain(`connect-src 'self' ws://${new URL(h.url).host} wss://${new URL(h.url).host}`);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/console/app.js"></script>');
    expect(html).not.toMatch(/<script>|\son\w+="/);

    const app = await fetch(`${h.url}/console/app.js`);
    expect(app.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const etag = app.headers.get("etag") ?? "";
    expect(etag).toMatch(/^".+"$/);
    const again = await fetch(`${h.url}/console/app.js`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect((await fetch(`${h.url}/console/console.css`)).headers.get("content-type")).toBe(
      "text/css; charset=utf-8",
    );

    const missing = await fetch(`${h.url}/console/..%2fpackage.json`);
    expect(missing.status).toBe(404);
    const nothing = await fetch(`${h.url}/console/nothing.js`);
    expect(nothing.status).toBe(404);
    expect(((await nothing.json()) as { error: { status: string } }).error.status).toBe("NOT_FOUND");
    // The API's docs stay where they were.
    expect((await fetch(`${h.url}/docs/`)).status).toBe(200);
  });

  it("serves JsSIP as an ES module for the web phone", async () => {
    const res = await fetch(`${h.url}/console/vendor/jssip.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const js = await res.text();
    expect(js).toMatch(/^\/\/ JsSIP 3\.\d+\.\d+ \(MIT/);
    expect(js).toMatch(/export\s*\{[^}]*as default\s*\}/);
    expect(js.length).toBeLessThan(400_000);
  });

  it("GET /v1.0/console-config: the direct domain, the WebSocket path and the newest event seq, for admins and managers", async () => {
    expect((await client(h.url).get("/v1.0/console-config")).status).toBe(401);
    const before = await api.get("/v1.0/console-config");
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({
      direct_domain: "sip.localhost",
      sip_websocket_path: "/sip",
      show_passwords: true,
    });
    const seq = before.body.events_seq as number;
    expect(Number.isInteger(seq)).toBe(true);
    await api.post("/v1.0/extensions", { extension: `cfg${randomBytes(2).toString("hex")}` });
    const after = await api.get("/v1.0/console-config");
    expect(after.body.events_seq).toBe(seq + 1);
    const events = await api.get<{ result: Array<{ seq: number; type: string }> }>(
      `/v1.0/events?after=${seq}`,
    );
    expect(events.body.result.map((e) => [e.seq, e.type])).toEqual([[seq + 1, "extension_created"]]);

    // An agent cannot manage extensions, so the console is not for it.
    const username = `agent-${randomBytes(3).toString("hex")}`;
    const password = h.secret(`Agent-${randomBytes(6).toString("hex")}`);
    await h.server.core.services.tenants.createUser(h.admin.customerId, {
      username,
      password,
      role: "agent",
    });
    const login = await client(h.url).post<{ token: string }>("/auth/login", { username, password });
    const agent = client(h.url, h.secret(login.body.token));
    expect((await agent.get("/v1.0/console-config")).status).toBe(403);
  });

  it("POST /auth/logout clears the token cookie", async () => {
    const login = await fetch(`${h.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: h.admin.username, password: h.admin.password }),
    });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    h.secret(cookie.replace(/^token=/, ""));
    expect((await fetch(`${h.url}/v1.0/me`, { headers: { cookie } })).status).toBe(200);
    const out = await fetch(`${h.url}/auth/logout`, { method: "POST", headers: { cookie } });
    expect(out.status).toBe(200);
    expect(await out.json()).toEqual({});
    const cleared = out.headers.get("set-cookie") ?? "";
    expect(cleared).toMatch(/^token=;/);
    expect(cleared).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/);
    expect(cleared).toContain("HttpOnly");
    // Without credentials, logging out is harmless.
    expect((await fetch(`${h.url}/auth/logout`, { method: "POST" })).status).toBe(200);
  });

  it("keeps no secret in clear", async () => {
    await h.assertNoPlaintextSecrets();
  });
});
