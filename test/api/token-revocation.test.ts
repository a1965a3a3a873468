// CONTRACT §14 "Tokens": deleting a user, or changing its password or its role, ends its login
// tokens at once, while everyone else's keep working.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeKey } from "../../src/config.js";
import { signJwt } from "../../src/domain/jwt.js";
import { client, DATABASES, type Harness, startHarness, stopHarness } from "../helpers/harness.js";

type ErrorReply = { error: { status: string; reason: string } };

describe.each(DATABASES)("login tokens of a changed user on %s", (kind) => {
  let h: Harness;
  let n = 0;

  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(async () => {
    await h.assertNoPlaintextSecrets();
    await stopHarness(h);
  });

  const tenants = () => h.server.core.services.tenants;

  /** A fresh manager and a token it logged in with. */
  async function loggedIn() {
    const username = `user-${kind}-${++n}`;
    const password = h.secret(`pass-${n}-${kind}-secret`);
    await tenants().createUser(h.admin.customerId, { username, password, role: "manager" });
    const r = await client(h.url).post<{ token: string }>("/auth/login", { username, password });
    expect(r.status).toBe(200);
    return { username, password, token: h.secret(r.body.token) };
  }

  async function expectRejected(token: string) {
    const r = await client(h.url, token).get<ErrorReply>("/v1.0/me");
    expect(r.status).toBe(401);
    expect(r.body.error.reason).toBe("INVALID_CREDENTIALS");
  }

  const me = (token: string) => client(h.url, token).get<{ role: string }>("/v1.0/me");

  it("a new password ends the old tokens; the new password logs in", async () => {
    const u = await loggedIn();
    expect((await me(u.token)).status).toBe(200);
    await tenants().setPassword(u.username, h.secret("a-new-password-1"));
    await expectRejected(u.token);
    // In a cookie or the query string as well.
    expect((await client(h.url).get(`/v1.0/me?token=${u.token}`)).status).toBe(401);
    expect((await client(h.url).get("/v1.0/me", { cookie: `token=${u.token}` })).status).toBe(401);
    expect((await client(h.url).post("/auth/login", u)).status).toBe(401);
    const again = await client(h.url).post<{ token: string }>("/auth/login", {
      username: u.username,
      password: "a-new-password-1",
    });
    expect(again.status).toBe(200);
    expect((await me(h.secret(again.body.token))).status).toBe(200);
  });

  it("a new role ends the old tokens; a new login carries the new role", async () => {
    const u = await loggedIn();
    await tenants().setRole(u.username, "agent");
    await expectRejected(u.token);
    const again = await client(h.url).post<{ token: string }>("/auth/login", u);
    const fresh = await me(h.secret(again.body.token));
    expect(fresh.body.role).toBe("agent");
    // The agent may no longer manage extensions.
    expect((await client(h.url, again.body.token).get("/v1.0/extensions")).status).toBe(403);
  });

  it("setting the role a user already has changes nothing", async () => {
    const u = await loggedIn();
    await tenants().setRole(u.username, "manager");
    expect((await me(u.token)).status).toBe(200);
  });

  it("deleting a user ends its tokens and its logins", async () => {
    const u = await loggedIn();
    const deleted = await tenants().deleteUser(u.username);
    expect(deleted.tm_delete).not.toBe("");
    expect(deleted.tm_delete).toBe(deleted.tm_update);
    await expectRejected(u.token);
    expect((await client(h.url).post("/auth/login", u)).status).toBe(401);
    await expect(tenants().setPassword(u.username, "whatever-123")).rejects.toThrow(/no user/);
  });

  it("other users' tokens keep working", async () => {
    const a = await loggedIn();
    const b = await loggedIn();
    await tenants().setPassword(a.username, "another-password-2");
    await tenants().deleteUser(a.username);
    expect((await me(b.token)).status).toBe(200);
    expect((await me(h.admin.token)).status).toBe(200);
  });

  it("refuses a bad password or role, and an unknown user, changing nothing", async () => {
    const u = await loggedIn();
    await expect(tenants().setPassword(u.username, "short")).rejects.toThrow(/password/);
    await expect(tenants().setRole(u.username, "root")).rejects.toThrow(/role/);
    await expect(tenants().resetPassword("nobody-at-all")).rejects.toThrow(/username: no user/);
    expect((await me(u.token)).status).toBe(200);
  });

  it("a token issued before token versions existed (no `ver`) works until the user changes", async () => {
    const u = await loggedIn();
    const user = await h.server.core.stores.users.getByUsername(u.username);
    if (!user) throw new Error("no user");
    const key = decodeKey(readFileSync(join(h.dataDir, "jwt.key"), "utf8"));
    if (!key) throw new Error("no jwt key");
    const iat = Math.floor(Date.now() / 1000);
    const old = signJwt(key, {
      sub: user.id,
      customer_id: user.customer_id,
      role: user.role,
      iat,
      exp: iat + 3600,
    });
    expect((await me(old)).status).toBe(200);
    await tenants().resetPassword(u.username);
    await expectRejected(old);
  });
});
