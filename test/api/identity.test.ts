// Identity (CONTRACT §3 credentials, §4 customers, users, login): who may call, and what they see.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody } from "../../src/contract/error.js";
import { type JwtClaims, signJwt } from "../../src/domain/jwt.js";
import {
  type ApiResponse,
  type Client,
  client,
  DATABASES,
  dropSchema,
  type Harness,
  newSchemaUrl,
  removeDir,
  startHarness,
} from "../helpers/harness.js";

const DAY_S = 24 * 3600;
const nowS = () => Math.floor(Date.now() / 1000);

function decodeJwt(token: string): { header: Record<string, unknown>; claims: JwtClaims } {
  const [h, c] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h ?? "", "base64url").toString("utf8")),
    claims: JSON.parse(Buffer.from(c ?? "", "base64url").toString("utf8")),
  };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

async function login(
  url: string,
  username: string,
  password: string,
): Promise<ApiResponse<Record<string, unknown>>> {
  return client(url).post("/auth/login", { username, password });
}

function expectError(res: ApiResponse<unknown>, status: number, reason: string): void {
  expect(res.status).toBe(status);
  const body = res.body as ErrorBody;
  expect(body.error.reason).toBe(reason);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.request_id).toBe(res.headers.get("x-request-id"));
}

describe.each(DATABASES)("identity on %s", (kind) => {
  let h: Harness;
  let own: { dataDir: string; databaseUrl: string | undefined };
  let admin: Client;
  let jwtKey: Buffer;
  let accessKey: string;
  let accessKeyId: string;

  beforeAll(async () => {
    // Own data dir and schema, made here so that teardown removes them even if start-up fails.
    own = {
      dataDir: mkdtempSync(join(tmpdir(), "sipext-test-")),
      databaseUrl: kind === "postgres" ? newSchemaUrl() : undefined,
    };
    h = await startHarness(kind, own);
    admin = client(h.url, h.admin.token);
    jwtKey = Buffer.from(readFileSync(join(h.dataDir, "jwt.key"), "utf8").trim(), "hex");
    const created = await admin.post("/v1.0/accesskeys", { name: "identity" });
    expect(created.status).toBe(200);
    accessKey = h.secret(created.body.token as string);
    accessKeyId = created.body.id as string;
  });
  afterAll(async () => {
    await h?.close();
    await dropSchema(own.databaseUrl);
    removeDir(own.dataDir);
  });

  describe("login", () => {
    it("returns the username and a token, and sets an HttpOnly SameSite=Strict token cookie", async () => {
      const res = await login(h.url, h.admin.username, h.admin.password);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(["token", "username"]);
      expect(res.body.username).toBe(h.admin.username);
      const token = h.secret(res.body.token as string);
      const cookies = res.headers.getSetCookie();
      const cookie = cookies.find((c) => c.startsWith("token="));
      expect(cookie).toBeDefined();
      expect(cookie?.split(";")[0]).toBe(`token=${token}`);
      expect(cookie).toMatch(/;\s*HttpOnly/i);
      expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    });

    it("issues an HS256 JWT with sub, customer_id, role and exp seven days ahead", async () => {
      const res = await login(h.url, h.admin.username, h.admin.password);
      const token = h.secret(res.body.token as string);
      expect(token.split(".")).toHaveLength(3);
      const { header, claims } = decodeJwt(token);
      expect(header.alg).toBe("HS256");
      expect(claims.customer_id).toBe(h.admin.customerId);
      expect(claims.role).toBe("admin");
      const me = await client(h.url, token).get("/v1.0/me");
      expect(claims.sub).toBe(me.body.id);
      expect(typeof claims.exp).toBe("number");
      expect(Math.abs((claims.exp as number) - (nowS() + 7 * DAY_S))).toBeLessThan(60);
    });

    it("answers a wrong password and an unknown user with the same 401 INVALID_CREDENTIALS body", async () => {
      const wrong = await login(h.url, h.admin.username, "not-the-password");
      const unknown = await login(h.url, "nobody-by-this-name", "not-the-password");
      expectError(wrong, 401, "INVALID_CREDENTIALS");
      expectError(unknown, 401, "INVALID_CREDENTIALS");
      const strip = (r: ApiResponse) => ({ ...(r.body as unknown as ErrorBody).error, request_id: "" });
      expect(strip(wrong)).toEqual(strip(unknown));
      expect(wrong.headers.getSetCookie()).toEqual([]);
      expect(unknown.headers.getSetCookie()).toEqual([]);
    });

    it("rejects a login without a password with 400 naming the field", async () => {
      const res = await client(h.url).post<ErrorBody>("/auth/login", { username: h.admin.username });
      expectError(res, 400, "INVALID_PASSWORD");
      expect(res.body.error.message).toContain("password");
    });
  });

  describe("credential carriers", () => {
    it("answers a request without any credential with 401 AUTHENTICATION_REQUIRED", async () => {
      expectError(await client(h.url).get("/v1.0/extensions"), 401, "AUTHENTICATION_REQUIRED");
      expectError(await client(h.url).get("/v1.0/me"), 401, "AUTHENTICATION_REQUIRED");
    });

    it("answers a caller without credentials with 401 before looking at its body", async () => {
      const anon = client(h.url);
      expectError(await anon.post("/v1.0/extensions", "{not json"), 401, "AUTHENTICATION_REQUIRED");
      expectError(
        await anon.post("/v1.0/extensions", "a=b", { "content-type": "text/plain" }),
        401,
        "AUTHENTICATION_REQUIRED",
      );
      expectError(await anon.post("/v1.0/accesskeys", { expire: -1 }), 401, "AUTHENTICATION_REQUIRED");
      expectError(
        await anon.get("/v1.0/extensions/not-a-uuid", { authorization: "Bearer nope" }),
        401,
        "INVALID_CREDENTIALS",
      );
    });

    it("counts an empty ?token= as absent", async () => {
      expectError(await client(h.url).get("/v1.0/extensions?token="), 401, "AUTHENTICATION_REQUIRED");
    });

    it("accepts the JWT in the token cookie", async () => {
      const res = await client(h.url).get("/v1.0/extensions", { cookie: `token=${h.admin.token}` });
      expect(res.status).toBe(200);
      expect(res.body).toHaveProperty("result");
    });

    it("accepts the JWT in ?token=", async () => {
      const res = await client(h.url).get(`/v1.0/extensions?token=${encodeURIComponent(h.admin.token)}`);
      expect(res.status).toBe(200);
    });

    it("accepts the JWT as Authorization Bearer", async () => {
      const res = await client(h.url).get("/v1.0/extensions", { authorization: `Bearer ${h.admin.token}` });
      expect(res.status).toBe(200);
    });

    it("accepts the access key in the accesskey cookie", async () => {
      const res = await client(h.url).get("/v1.0/extensions", { cookie: `accesskey=${accessKey}` });
      expect(res.status).toBe(200);
    });

    it("accepts the access key in ?accesskey=", async () => {
      const res = await client(h.url).get(`/v1.0/extensions?accesskey=${encodeURIComponent(accessKey)}`);
      expect(res.status).toBe(200);
    });

    it("accepts the access key as Authorization Bearer", async () => {
      const res = await client(h.url).get("/v1.0/extensions", { authorization: `Bearer ${accessKey}` });
      expect(res.status).toBe(200);
    });

    it("accepts an empty ?token= together with a Bearer credential, as the seed sends it", async () => {
      const jwt = await client(h.url).get("/v1.0/extensions?token=", {
        authorization: `Bearer ${h.admin.token}`,
      });
      expect(jwt.status).toBe(200);
      const key = await client(h.url).get("/v1.0/extensions?token=&accesskey=", {
        authorization: `Bearer ${accessKey}`,
      });
      expect(key.status).toBe(200);
    });

    it("keeps the query credential out of the logs", async () => {
      await client(h.url).get(`/v1.0/me?accesskey=${encodeURIComponent(accessKey)}`);
      await client(h.url).get(`/v1.0/me?token=${encodeURIComponent(h.admin.token)}`);
      expect(h.logs()).toContain("[redacted]");
      await h.assertNoPlaintextSecrets();
    });
  });

  describe("bad credentials", () => {
    const bearer = (token: string) =>
      client(h.url).get("/v1.0/extensions", { authorization: `Bearer ${token}` });

    it("rejects a JWT signed with another key", async () => {
      const { claims } = decodeJwt(h.admin.token);
      const forged = signJwt(Buffer.alloc(32, 7), claims);
      expectError(await bearer(forged), 401, "INVALID_CREDENTIALS");
    });

    it("rejects a JWT whose claims were changed after signing", async () => {
      const [header, body, sig] = h.admin.token.split(".");
      const claims = JSON.parse(Buffer.from(body ?? "", "base64url").toString("utf8"));
      const tampered = `${header}.${b64({ ...claims, exp: claims.exp + 3600 })}.${sig}`;
      expectError(await bearer(tampered), 401, "INVALID_CREDENTIALS");
      const otherCustomer = `${header}.${b64({ ...claims, customer_id: "00000000-0000-4000-8000-000000000000" })}.${sig}`;
      expectError(await bearer(otherCustomer), 401, "INVALID_CREDENTIALS");
    });

    it('rejects a JWT with "alg":"none"', async () => {
      const { claims } = decodeJwt(h.admin.token);
      const none = `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
      expectError(await bearer(none), 401, "INVALID_CREDENTIALS");
      expectError(
        await client(h.url).get(`/v1.0/extensions?token=${encodeURIComponent(none)}`),
        401,
        "INVALID_CREDENTIALS",
      );
    });

    it("rejects an expired JWT signed with the server's own key", async () => {
      const { claims } = decodeJwt(h.admin.token);
      const past = nowS() - 8 * DAY_S;
      const expired = signJwt(jwtKey, { ...claims, iat: past, exp: past + 7 * DAY_S });
      expectError(await bearer(expired), 401, "INVALID_CREDENTIALS");
      // The same claims with a future exp are accepted, so it is the expiry that was refused.
      const fresh = signJwt(jwtKey, { ...claims, iat: nowS(), exp: nowS() + 60 });
      expect((await bearer(fresh)).status).toBe(200);
    });

    it("rejects a well-signed JWT with an unknown role", async () => {
      const { claims } = decodeJwt(h.admin.token);
      const odd = signJwt(jwtKey, { ...claims, role: "root" });
      expectError(await bearer(odd), 401, "INVALID_CREDENTIALS");
    });

    it("rejects garbage in every carrier with INVALID_CREDENTIALS", async () => {
      const c = client(h.url);
      expectError(await c.get("/v1.0/extensions", { cookie: "token=abc" }), 401, "INVALID_CREDENTIALS");
      expectError(await c.get("/v1.0/extensions?token=a.b.c"), 401, "INVALID_CREDENTIALS");
      expectError(await c.get("/v1.0/extensions", { authorization: "Bearer x" }), 401, "INVALID_CREDENTIALS");
      expectError(
        await c.get("/v1.0/extensions", { cookie: "accesskey=sxk_nope" }),
        401,
        "INVALID_CREDENTIALS",
      );
      expectError(await c.get("/v1.0/extensions?accesskey=sxk_nope"), 401, "INVALID_CREDENTIALS");
      expectError(
        await c.get("/v1.0/extensions", { authorization: `Bearer ${accessKey}x` }),
        401,
        "INVALID_CREDENTIALS",
      );
    });
  });

  describe("customer and me", () => {
    it("returns the caller's customer with exactly the contract's keys", async () => {
      const res = await admin.get("/v1.0/customer");
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(
        [
          "id",
          "name",
          "detail",
          "email",
          "billing_account_id",
          "status",
          "webhook_method",
          "webhook_uri",
          "tm_create",
          "tm_update",
          "tm_delete",
        ].sort(),
      );
      expect(res.body.id).toBe(h.admin.customerId);
      expect(res.body.billing_account_id).toBe("");
      expect(res.body.tm_create).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
      expect(res.body.tm_delete).toBe("");
    });

    it("returns the same customer to an access key of that customer", async () => {
      const res = await client(h.url).get(`/v1.0/customer?accesskey=${accessKey}`);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(h.admin.customerId);
    });

    it("describes a logged-in user on /v1.0/me", async () => {
      const res = await admin.get("/v1.0/me");
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        type: "user",
        username: h.admin.username,
        customer_id: h.admin.customerId,
        role: "admin",
      });
      expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.stringify(res.body)).not.toMatch(/password|argon2/i);
    });

    it("describes an access key on /v1.0/me without its token", async () => {
      const res = await client(h.url).get(`/v1.0/me?accesskey=${accessKey}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        type: "accesskey",
        id: accessKeyId,
        customer_id: h.admin.customerId,
        role: "admin",
        name: "identity",
      });
      expect(accessKey.startsWith(res.body.token_prefix as string)).toBe(true);
      expect(res.body).not.toHaveProperty("token");
      expect(JSON.stringify(res.body)).not.toContain(accessKey);
    });
  });

  describe("roles", () => {
    let manager: Client;
    let agent: Client;

    beforeAll(async () => {
      const tenants = h.server.core.services.tenants;
      const mgrPw = h.secret("manager-pass-1234");
      const agentPw = h.secret("agent-pass-1234");
      await tenants.createUser(h.admin.customerId, {
        username: `mgr-${kind}`,
        password: mgrPw,
        role: "manager",
      });
      await tenants.createUser(h.admin.customerId, {
        username: `agt-${kind}`,
        password: agentPw,
        role: "agent",
      });
      const m = await login(h.url, `mgr-${kind}`, mgrPw);
      const a = await login(h.url, `agt-${kind}`, agentPw);
      expect(m.status).toBe(200);
      expect(a.status).toBe(200);
      expect(decodeJwt(m.body.token as string).claims.role).toBe("manager");
      expect(decodeJwt(a.body.token as string).claims.role).toBe("agent");
      manager = client(h.url, h.secret(m.body.token as string));
      agent = client(h.url, h.secret(a.body.token as string));
    });

    it("lets a manager create, read, change and delete extensions", async () => {
      const created = await manager.post("/v1.0/extensions", { extension: "mgr1", password: "Mgr-pass-123" });
      expect(created.status).toBe(200);
      const id = created.body.id as string;
      expect((await manager.get(`/v1.0/extensions/${id}`)).status).toBe(200);
      expect((await manager.get("/v1.0/extensions")).status).toBe(200);
      const put = await manager.put(`/v1.0/extensions/${id}`, { name: "renamed" });
      expect(put.status).toBe(200);
      expect(put.body.name).toBe("renamed");
      expect((await manager.post(`/v1.0/extensions/${id}/direct-hash-regenerate`)).status).toBe(200);
      expect((await manager.del(`/v1.0/extensions/${id}`)).status).toBe(200);
    });

    it("lets a manager read the customer's domains", async () => {
      const list = await manager.get<{ result: Array<{ id: string }> }>("/v1.0/domains");
      expect(list.status).toBe(200);
      expect(list.body.result).toHaveLength(1);
    });

    it("refuses a manager every access key call with 403 PERMISSION_DENIED", async () => {
      expectError(await manager.get("/v1.0/accesskeys"), 403, "PERMISSION_DENIED");
      expectError(await manager.post("/v1.0/accesskeys", { name: "x" }), 403, "PERMISSION_DENIED");
      expectError(await manager.get(`/v1.0/accesskeys/${accessKeyId}`), 403, "PERMISSION_DENIED");
      expectError(
        await manager.put(`/v1.0/accesskeys/${accessKeyId}`, { name: "y" }),
        403,
        "PERMISSION_DENIED",
      );
      expectError(await manager.del(`/v1.0/accesskeys/${accessKeyId}`), 403, "PERMISSION_DENIED");
      // The key is untouched.
      expect((await admin.get(`/v1.0/accesskeys/${accessKeyId}`)).body.name).toBe("identity");
    });

    it("refuses an agent every extension call with 403 PERMISSION_DENIED", async () => {
      const ext = await admin.post("/v1.0/extensions", { extension: "agt1", password: "Agt-pass-123" });
      const id = ext.body.id as string;
      expectError(await agent.get("/v1.0/extensions"), 403, "PERMISSION_DENIED");
      expectError(await agent.post("/v1.0/extensions", { extension: "agt2" }), 403, "PERMISSION_DENIED");
      expectError(await agent.get(`/v1.0/extensions/${id}`), 403, "PERMISSION_DENIED");
      expectError(await agent.put(`/v1.0/extensions/${id}`, { name: "n" }), 403, "PERMISSION_DENIED");
      expectError(await agent.del(`/v1.0/extensions/${id}`), 403, "PERMISSION_DENIED");
      expectError(
        await agent.post(`/v1.0/extensions/${id}/direct-hash-regenerate`),
        403,
        "PERMISSION_DENIED",
      );
      expectError(await agent.get("/v1.0/accesskeys"), 403, "PERMISSION_DENIED");
      expect((await admin.get(`/v1.0/extensions/${id}`)).body.tm_delete).toBe("");
    });

    it("still tells an agent who it is", async () => {
      const me = await agent.get("/v1.0/me");
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ type: "user", role: "agent", username: `agt-${kind}` });
    });
  });

  describe("tenant isolation", () => {
    let other: Client;
    let otherCustomerId: string;
    let myDomainId: string;
    let myExtensionId: string;

    beforeAll(async () => {
      const pw = h.secret("other-admin-pass-1234");
      const t = await h.server.core.services.tenants.createTenant({
        name: "other",
        admin: { username: `other-${kind}`, password: pw },
      });
      otherCustomerId = t.customer.id;
      const res = await login(h.url, `other-${kind}`, pw);
      expect(res.status).toBe(200);
      other = client(h.url, h.secret(res.body.token as string));
      const domains = await admin.get<{ result: Array<{ id: string }> }>("/v1.0/domains");
      myDomainId = domains.body.result[0]?.id as string;
      const ext = await admin.post("/v1.0/extensions", { extension: "iso1", password: "Iso-pass-123" });
      myExtensionId = ext.body.id as string;
    });

    it("shows the second customer its own customer", async () => {
      const res = await other.get("/v1.0/customer");
      expect(res.body.id).toBe(otherCustomerId);
      expect(res.body.id).not.toBe(h.admin.customerId);
    });

    it("hides the first customer's access keys from the second", async () => {
      const list = await other.get<{ result: Array<{ id: string }> }>("/v1.0/accesskeys");
      expect(list.status).toBe(200);
      expect(list.body.result.map((k) => k.id)).not.toContain(accessKeyId);
      expectError(await other.get(`/v1.0/accesskeys/${accessKeyId}`), 404, "ACCESSKEY_NOT_FOUND");
      expectError(
        await other.put(`/v1.0/accesskeys/${accessKeyId}`, { name: "x" }),
        404,
        "ACCESSKEY_NOT_FOUND",
      );
      expectError(await other.del(`/v1.0/accesskeys/${accessKeyId}`), 404, "ACCESSKEY_NOT_FOUND");
      const mine = await admin.get(`/v1.0/accesskeys/${accessKeyId}`);
      expect(mine.body).toMatchObject({ name: "identity", tm_delete: "" });
    });

    it("hides the first customer's domain from the second", async () => {
      const list = await other.get<{ result: Array<{ id: string; customer_id: string }> }>("/v1.0/domains");
      expect(list.body.result).toHaveLength(1);
      expect(list.body.result[0]?.customer_id).toBe(otherCustomerId);
      expect(list.body.result.map((d) => d.id)).not.toContain(myDomainId);
      expectError(await other.get(`/v1.0/domains/${myDomainId}`), 404, "DOMAIN_NOT_FOUND");
      expect((await admin.get(`/v1.0/domains/${myDomainId}`)).status).toBe(200);
    });

    it("hides the first customer's extensions from the second", async () => {
      const list = await other.get<{ result: Array<{ id: string }> }>("/v1.0/extensions");
      expect(list.body.result.map((e) => e.id)).not.toContain(myExtensionId);
      expectError(await other.get(`/v1.0/extensions/${myExtensionId}`), 404, "EXTENSION_NOT_FOUND");
      expectError(await other.del(`/v1.0/extensions/${myExtensionId}`), 404, "EXTENSION_NOT_FOUND");
      expect((await admin.get(`/v1.0/extensions/${myExtensionId}`)).body.tm_delete).toBe("");
    });

    it("keeps an access key inside its own customer", async () => {
      const created = await other.post("/v1.0/accesskeys", { name: "theirs" });
      const theirKey = h.secret(created.body.token as string);
      const c = client(h.url, theirKey);
      expect((await c.get("/v1.0/customer")).body.id).toBe(otherCustomerId);
      expectError(await c.get(`/v1.0/accesskeys/${accessKeyId}`), 404, "ACCESSKEY_NOT_FOUND");
      const mine = await admin.get<{ result: Array<{ id: string }> }>("/v1.0/accesskeys");
      expect(mine.body.result.map((k) => k.id)).not.toContain(created.body.id);
    });
  });
});
