// The audit log (CONTRACT §17) over real HTTP on both databases: a whole extension lifecycle's
// trail (created, updated, password set, direct hash regenerated, provisioning link issued, used
// and revoked, contacts force-unregistered, deleted), access keys created and revoked and what a
// key does named by its prefix, the `sipext` command's password reset as `cli`, newest first and
// paged like every list, the ?extension_id= filter, another tenant seeing none of it, and no
// secret value anywhere in it.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatMicros } from "../../src/util/time.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";

interface AuditEvent {
  id: string;
  customer_id: string;
  action: string;
  extension_id: string;
  target_id: string;
  actor: string;
  source: string;
  fields: string[];
  tm_create: string;
}
interface Page {
  result: AuditEvent[];
  next_page_token: string;
}

describe.each(DATABASES)("the audit log on %s", (kind) => {
  let h: Harness;
  let api: Client;
  let adminId: string;
  const secrets: string[] = [];
  const keep = (v: string) => {
    secrets.push(v);
    return h.secret(v);
  };

  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
    adminId = ((await api.get<{ id: string }>("/v1.0/me")).body as { id: string }).id;
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  const all = async (query = "", as: Client = api) => {
    const out: AuditEvent[] = [];
    let token = "";
    for (;;) {
      const sep = query ? "&" : "";
      const res = await as.get<Page>(
        `/v1.0/audit-events?${query}${sep}page_size=3&page_token=${encodeURIComponent(token)}`,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      out.push(...res.body.result);
      if (res.body.result.length === 0) return out;
      token = res.body.next_page_token;
    }
  };

  it("records a whole extension lifecycle, newest first, with actor, source and field names", async () => {
    const password = keep(`Pw-${randomBytes(8).toString("hex")}`);
    const created = await api.post<{ id: string }>("/v1.0/extensions", {
      extension: "a100",
      name: "desk",
      password,
    });
    expect(created.status).toBe(200);
    const id = created.body.id;
    expect((await api.put(`/v1.0/extensions/${id}`, { name: "desk 2", detail: "2nd floor" })).status).toBe(
      200,
    );
    expect(
      (await api.put(`/v1.0/extensions/${id}`, { password: keep(`Pw-${randomBytes(8).toString("hex")}`) }))
        .status,
    ).toBe(200);
    expect((await api.post(`/v1.0/extensions/${id}/direct-hash-regenerate`)).status).toBe(200);
    const link = await api.post<{ id: string; url: string; token: string }>(
      `/v1.0/extensions/${id}/provisioning`,
    );
    keep(link.body.token);
    expect((await fetch(`${link.body.url}&format=json`)).status).toBe(200);
    expect((await api.del(`/v1.0/extensions/${id}/provisioning/${link.body.id}`)).status).toBe(200);
    expect((await api.del(`/v1.0/extensions/${id}/contacts`)).status).toBe(200);
    expect((await api.del(`/v1.0/extensions/${id}`)).status).toBe(200);
    // Another extension's action, which the filter leaves out.
    expect((await api.post("/v1.0/extensions", { extension: "a101" })).status).toBe(200);

    const trail = await all(`extension_id=${id}`);
    expect(trail.map((e) => e.action)).toEqual([
      "extension_deleted",
      "extension_contacts_unregistered",
      "extension_provisioning_revoked",
      "extension_provisioning_used",
      "extension_provisioning_issued",
      "extension_direct_hash_regenerated",
      "extension_password_set",
      "extension_updated",
      "extension_created",
    ]);
    const by = Object.fromEntries(trail.map((e) => [e.action, e]));
    expect(by.extension_created?.fields).toEqual(["extension", "password", "name"]);
    expect(by.extension_updated?.fields).toEqual(["name", "detail"]);
    expect(by.extension_password_set?.fields).toEqual(["password"]);
    expect(by.extension_direct_hash_regenerated?.fields).toEqual(["direct_hash"]);
    expect(by.extension_provisioning_issued?.target_id).toBe(link.body.id);
    expect(by.extension_provisioning_used?.actor).toBe("provisioning");
    for (const e of trail) {
      expect(e.extension_id).toBe(id);
      expect(e.customer_id).toBe(h.admin.customerId);
      expect(e.source).toBe("127.0.0.1");
      if (e.action !== "extension_provisioning_used") expect(e.actor).toBe(adminId);
      expect(e.tm_create).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    }
    // Newest first, every record once, although paged by three.
    const times = trail.map((e) => e.tm_create);
    expect([...times].sort().reverse()).toEqual(times);
    expect(new Set(trail.map((e) => e.id)).size).toBe(trail.length);
  });

  it("names an access key by its prefix, and records keys created and revoked", async () => {
    const key = await api.post<{ id: string; token: string; token_prefix: string }>("/v1.0/accesskeys", {
      name: "ci",
    });
    expect(key.status).toBe(200);
    keep(key.body.token);
    const asKey = client(h.url, key.body.token);
    const ext = await asKey.post<{ id: string }>("/v1.0/extensions", { extension: "a200" });
    expect(ext.status).toBe(200);
    expect((await api.del(`/v1.0/accesskeys/${key.body.id}`)).status).toBe(200);

    const recent = (await api.get<Page>("/v1.0/audit-events?page_size=3")).body.result;
    expect(recent.map((e) => [e.action, e.actor, e.target_id])).toEqual([
      ["accesskey_revoked", adminId, key.body.id],
      ["extension_created", key.body.token_prefix, ext.body.id],
      ["accesskey_created", adminId, key.body.id],
    ]);
    expect(key.body.token_prefix).toMatch(/^sxk_.{8}$/);
  });

  it("records a SIP ban lifted", async () => {
    // A ban as the registrar writes one after failed digest answers (test/e2e/protection.test.ts
    // earns one for real); here only its lifting is under test.
    const now = Date.now() * 1000;
    const ban = {
      id: randomUUID(),
      source: "192.0.2.7",
      customer_id: h.admin.customerId,
      extension_id: "",
      failures: 10,
      tm_create: formatMicros(now),
      tm_expire: formatMicros(now + 600_000_000),
    };
    await h.server.core.stores.sipBans.insert(ban);
    expect((await api.del(`/v1.0/sip-bans/${ban.id}`)).status).toBe(200);
    const [last] = (await api.get<Page>("/v1.0/audit-events?page_size=1")).body.result;
    expect(last).toMatchObject({
      action: "sip_ban_lifted",
      actor: adminId,
      target_id: ban.id,
      source: "127.0.0.1",
    });
  });

  it("records the sipext command's password reset as cli", async () => {
    const { password } = await h.server.core.services.tenants.resetPassword(h.admin.username);
    keep(password);
    // The reset ended the admin's token: log in again for what follows.
    const login = await client(h.url).post<{ token: string }>("/auth/login", {
      username: h.admin.username,
      password,
    });
    api = client(h.url, keep(login.body.token));
    const [last] = (await api.get<Page>("/v1.0/audit-events?page_size=1")).body.result;
    expect(last).toMatchObject({ action: "user_password_reset", actor: "cli", fields: ["password"] });
  });

  it("shows another tenant none of it, refuses a bad extension_id, and holds no secret value", async () => {
    const otherPassword = keep(`other-${randomBytes(8).toString("hex")}`);
    await h.server.core.services.tenants.createTenant({
      name: "other",
      admin: { username: "audit-other", password: otherPassword },
    });
    const login = await client(h.url).post<{ token: string }>("/auth/login", {
      username: "audit-other",
      password: otherPassword,
    });
    const other = client(h.url, keep(login.body.token));
    expect(await all("", other)).toEqual([]);
    const mine = await all();
    expect(mine.length).toBeGreaterThan(10);
    const firstExt = mine.find((e) => e.action === "extension_created")?.extension_id ?? "";
    expect(await all(`extension_id=${firstExt}`, other)).toEqual([]);

    const bad = await api.get<{ error: { message: string } }>("/v1.0/audit-events?extension_id=nope");
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^extension_id: /);

    const text = JSON.stringify(mine);
    for (const s of secrets) expect(text).not.toContain(s);
    await h.assertNoPlaintextSecrets();
  });
});
