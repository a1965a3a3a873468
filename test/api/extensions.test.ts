// Behaviour and every error path of the extension endpoints (CONTRACT §3 and §6).
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "../../src/contract/common.js";
import type { ErrorBody } from "../../src/contract/error.js";
import type { Extension } from "../../src/contract/extension.js";
import {
  type ApiResponse,
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";

const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;
const DIRECT_HASH = /^[0-9a-f]{12}$/;
const SIP_PASSWORD = /^[\x21-\x7E]{8,80}$/;
const STATUS_NAME: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ALREADY_EXISTS",
};
const UNKNOWN_ID = "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Asserts the CONTRACT §3 error envelope; `field` must be named in the message. */
function expectError(res: ApiResponse<unknown>, status: number, reason: string, field?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  const body = res.body as ErrorBody;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error)).toEqual(["status", "reason", "message", "request_id"]);
  if (STATUS_NAME[status]) expect(body.error.status).toBe(STATUS_NAME[status]);
  expect(body.error.reason).toBe(reason);
  expect(body.error.request_id).toBe(res.headers.get("x-request-id"));
  if (field !== undefined) expect(body.error.message).toContain(field);
}

/** The RFC 3339 spelling of a seed timestamp, shifted into another zone by `offsetHours`. */
function rfc3339(seed: string, offsetHours = 0): string {
  const [date, time = ""] = seed.split(" ");
  const micros = time.slice(9);
  if (offsetHours === 0) return `${date}T${time}Z`;
  const shifted = new Date(Date.parse(`${date}T${time.slice(0, 8)}Z`) + offsetHours * 3_600_000);
  const sign = offsetHours > 0 ? "+" : "-";
  const hh = String(Math.abs(offsetHours)).padStart(2, "0");
  return `${shifted.toISOString().slice(0, 19)}.${micros}${sign}${hh}:00`;
}

describe.each(DATABASES)("the extension API on %s", (kind) => {
  let h: Harness;
  let api: Client;
  let customerId: string;
  let domainId: string;
  let domainName: string;
  let other: { api: Client; customerId: string; domainId: string; ext: Extension };
  let seq = 0;
  /** A fresh extension name, so tests do not depend on each other. */
  const fresh = (prefix = "x") => `${prefix}${++seq}`;

  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
    customerId = h.admin.customerId;
    const domains = await api.get<{ result: Array<{ id: string; domain_name: string }> }>("/v1.0/domains");
    const [domain] = domains.body.result;
    if (!domain) throw new Error("no domain");
    domainId = domain.id;
    domainName = domain.domain_name;

    const otherPassword = h.secret("other-admin-Pa55word");
    const tenant = await h.server.core.services.tenants.createTenant({
      name: "other",
      admin: { username: "other-admin", password: otherPassword },
    });
    const login = await client(h.url).post<{ token: string }>("/auth/login", {
      username: "other-admin",
      password: otherPassword,
    });
    expect(login.status).toBe(200);
    const otherApi = client(h.url, h.secret(login.body.token));
    const ext = await otherApi.post<Extension>("/v1.0/extensions", {
      extension: "their-100",
      name: "theirs",
      password: h.secret("Their-secret-1"),
    });
    expect(ext.status).toBe(200);
    other = { api: otherApi, customerId: tenant.customer.id, domainId: tenant.domain.id, ext: ext.body };
  });

  afterAll(async () => {
    await stopHarness(h);
  });

  async function create(body: Record<string, unknown>, as: Client = api): Promise<Extension> {
    if (typeof body.password === "string") h.secret(body.password);
    const res = await as.post<Extension>("/v1.0/extensions", body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    h.secret(res.body.password ?? "");
    return res.body;
  }

  async function get(id: string): Promise<Extension> {
    const res = await api.get<Extension>(`/v1.0/extensions/${id}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  }

  /** Every live extension of the caller, following next_page_token to the empty page. */
  async function listAll(as: Client = api, query = ""): Promise<Extension[]> {
    const all: Extension[] = [];
    let token = "";
    for (let page = 0; page < 1000; page++) {
      const res = await as.get<Page<Extension>>(
        `/v1.0/extensions?page_size=100${query}${token ? `&page_token=${encodeURIComponent(token)}` : ""}`,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      if (res.body.result.length === 0) {
        expect(res.body.next_page_token).toBe("");
        return all;
      }
      all.push(...res.body.result);
      token = res.body.next_page_token;
    }
    throw new Error("the list never ended");
  }

  const stored = (id: string, customer = customerId) => h.server.core.stores.extensions.get(customer, id);

  describe("creating", () => {
    it("gives an extension created without name or detail empty strings for both", async () => {
      const e = await create({ extension: fresh(), password: "Nameless-pass-1" });
      expect(e.name).toBe("");
      expect(e.detail).toBe("");
      const again = await get(e.id);
      expect(again.name).toBe("");
      expect(again.detail).toBe("");
    });

    it("generates, returns and stores a strong password when none is given", async () => {
      const name = fresh();
      const e = await create({ extension: name });
      expect(e.password).toMatch(SIP_PASSWORD);
      expect(e.password.length).toBeGreaterThanOrEqual(16);
      expect((await get(e.id)).password).toBe(e.password);
      const row = await stored(e.id);
      expect(row?.ha1_md5).toBe(md5(`${name}:${domainName}:${e.password}`));
      expect(row?.ha1_sha256).toBe(sha256(`${name}:${domainName}:${e.password}`));
    });

    it("generates a different password for each extension", async () => {
      const a = await create({ extension: fresh() });
      const b = await create({ extension: fresh() });
      expect(a.password).not.toBe(b.password);
    });

    it("stores a given password as the registrar's HA1 values and sealed, never in clear", async () => {
      const name = fresh();
      const pw = "Given-pass-42!";
      const e = await create({ extension: name, password: pw });
      expect(e.password).toBe(pw);
      const row = await stored(e.id);
      expect(row?.ha1_md5).toBe(md5(`${name}:${domainName}:${pw}`));
      expect(row?.ha1_sha256).toBe(sha256(`${name}:${domainName}:${pw}`));
      expect(row?.password_enc).toBeTruthy();
      expect(row?.password_enc).not.toContain(pw);
    });

    it("ignores the fields the server owns when a client sends them", async () => {
      const name = fresh();
      const e = await create({
        extension: name,
        id: UNKNOWN_ID,
        customer_id: other.customerId,
        user_id: 1,
        username: "someone-else",
        domain_name: "evil.example.com",
        direct_hash: "000000000000",
        tm_create: "2001-01-01 00:00:00.000000",
        tm_delete: "2001-01-01 00:00:00.000000",
      });
      expect(e.id).not.toBe(UNKNOWN_ID);
      expect(e.customer_id).toBe(customerId);
      expect(e.username).toBe(name);
      expect(e.domain_name).toBe(domainName);
      expect(e.direct_hash).toMatch(DIRECT_HASH);
      expect(e.direct_hash).not.toBe("000000000000");
      expect(e.tm_create > "2001-01-01 00:00:00.000000").toBe(true);
      expect(e.tm_delete).toBe("");
    });

    it("refuses a duplicate extension with 409 EXTENSION_ALREADY_EXISTS", async () => {
      const name = fresh("dup");
      const first = await create({ extension: name });
      const res = await api.post("/v1.0/extensions", {
        extension: name,
        password: h.secret("Another-pass-1"),
      });
      expectError(res, 409, "EXTENSION_ALREADY_EXISTS", name);
      expect((await get(first.id)).password).toBe(first.password);
    });

    it("treats extension names as case-sensitive", async () => {
      const name = fresh("Case");
      const upper = await create({ extension: name });
      const lower = await create({ extension: name.toLowerCase() });
      expect(lower.id).not.toBe(upper.id);
      expect(lower.extension).toBe(name.toLowerCase());
    });

    it("lets two customers use the same extension name", async () => {
      const e = await create({ extension: other.ext.extension });
      expect(e.extension).toBe(other.ext.extension);
      expect(e.customer_id).toBe(customerId);
      expect(e.direct_hash).not.toBe(other.ext.direct_hash);
    });

    it("accepts every character the extension rule allows, up to 40 of them", async () => {
      const all = await create({ extension: "Az09._-+~!" });
      expect(all.extension).toBe("Az09._-+~!");
      expect(all.username).toBe("Az09._-+~!");
      const long = "L".repeat(39) + String(seq++ % 10);
      expect((await create({ extension: long })).extension).toBe(long);
    });

    it("accepts passwords of exactly 8 and 80 printable characters", async () => {
      const short = "!~Aa0-_8";
      const long = `${"P".repeat(70)}~!@#$%^&*(`;
      expect(long).toHaveLength(80);
      expect((await create({ extension: fresh(), password: short })).password).toBe(short);
      expect((await create({ extension: fresh(), password: long })).password).toBe(long);
    });

    it("accepts a name of 255 characters and a detail of 1024", async () => {
      const e = await create({ extension: fresh(), name: "n".repeat(255), detail: "d".repeat(1024) });
      expect(e.name).toHaveLength(255);
      expect((await get(e.id)).detail).toBe("d".repeat(1024));
    });

    it("counts characters, not UTF-16 units: 255 emoji make a valid name", async () => {
      const name = "😀".repeat(255);
      const e = await create({ extension: fresh(), name, detail: "é".repeat(1024) });
      expect((await get(e.id)).name).toBe(name);
      const res = await api.post("/v1.0/extensions", { extension: fresh(), name: "😀".repeat(256) });
      expectError(res, 400, "INVALID_NAME", "name");
    });

    const invalidCreates: Array<{ why: string; body: unknown; field: string }> = [
      { why: "an empty extension", body: { extension: "" }, field: "extension" },
      { why: "a 41-character extension", body: { extension: "x".repeat(41) }, field: "extension" },
      { why: "an extension with a space", body: { extension: "a b" }, field: "extension" },
      { why: "an extension with @", body: { extension: "a@b" }, field: "extension" },
      { why: "an extension with a colon", body: { extension: "a:b" }, field: "extension" },
      { why: "an extension with %", body: { extension: "a%20b" }, field: "extension" },
      { why: "an extension with a non-ASCII letter", body: { extension: "émile" }, field: "extension" },
      { why: "a numeric extension", body: { extension: 123 }, field: "extension" },
      { why: "a body without extension", body: { name: "no extension" }, field: "extension" },
      { why: "a 7-character password", body: { extension: "v-pw1", password: "Shrt-7!" }, field: "password" },
      {
        why: "an 81-character password",
        body: { extension: "v-pw2", password: "Q".repeat(81) },
        field: "password",
      },
      {
        why: "a password with a space",
        body: { extension: "v-pw3", password: "pass word-3" },
        field: "password",
      },
      {
        why: "a non-ASCII password",
        body: { extension: "v-pw4", password: "pässwörd-4" },
        field: "password",
      },
      {
        why: "a password with a tab",
        body: { extension: "v-pw5", password: "tab\tpass-5" },
        field: "password",
      },
      { why: "a numeric password", body: { extension: "v-pw6", password: 12345678 }, field: "password" },
      { why: "a 256-character name", body: { extension: "v-n1", name: "n".repeat(256) }, field: "name" },
      { why: "a null name", body: { extension: "v-n2", name: null }, field: "name" },
      { why: "a numeric name", body: { extension: "v-n3", name: 5 }, field: "name" },
      { why: "a name with a NUL character", body: { extension: "v-n4", name: "a\u0000b" }, field: "name" },
      {
        why: "a 1025-character detail",
        body: { extension: "v-d1", detail: "d".repeat(1025) },
        field: "detail",
      },
      { why: "a null detail", body: { extension: "v-d2", detail: null }, field: "detail" },
      {
        why: "a detail with a NUL character",
        body: { extension: "v-d3", detail: "\u0000" },
        field: "detail",
      },
      { why: "a malformed domain_id", body: { extension: "v-dom1", domain_id: "nope" }, field: "domain_id" },
      { why: "a numeric domain_id", body: { extension: "v-dom2", domain_id: 7 }, field: "domain_id" },
      { why: "an array body", body: [{ extension: "v-arr" }], field: "body" },
      { why: "a null body", body: "null", field: "body" },
      { why: "a string body", body: '"v-str"', field: "body" },
      { why: "no body at all", body: undefined, field: "body" },
    ];

    it.each(invalidCreates)("refuses $why with 400 naming $field", async ({ body, field }) => {
      const pw = (body as { password?: unknown } | undefined)?.password;
      if (typeof pw === "string") h.secret(pw);
      const res =
        body === undefined
          ? await api.call("POST", "/v1.0/extensions")
          : await api.post("/v1.0/extensions", body, { "content-type": "application/json" });
      expectError(res, 400, `INVALID_${field.toUpperCase()}`, field);
      const ext = (body as { extension?: unknown } | undefined)?.extension;
      if (typeof ext === "string" && ext !== "") {
        expect(await h.server.core.stores.extensions.getLiveByName(customerId, ext)).toBeUndefined();
      }
    });

    it("accepts the caller's own domain_id, in any letter case", async () => {
      expect((await create({ extension: fresh(), domain_id: domainId })).domain_id).toBe(domainId);
      const upper = await create({ extension: fresh(), domain_id: domainId.toUpperCase() });
      expect(upper.domain_id).toBe(domainId);
    });

    it("refuses another customer's domain_id with 400 and creates nothing", async () => {
      const name = fresh();
      const res = await api.post("/v1.0/extensions", { extension: name, domain_id: other.domainId });
      expectError(res, 400, "INVALID_DOMAIN_ID", "domain_id");
      expect(await h.server.core.stores.extensions.getLiveByName(customerId, name)).toBeUndefined();
      expect(await h.server.core.stores.extensions.getLiveByName(other.customerId, name)).toBeUndefined();
    });

    it("refuses a well-formed domain_id that names no domain with 400", async () => {
      const res = await api.post("/v1.0/extensions", { extension: fresh(), domain_id: UNKNOWN_ID });
      expectError(res, 400, "INVALID_DOMAIN_ID", "domain_id");
    });
  });

  describe("reading", () => {
    it("returns the same object from GET as from create", async () => {
      const e = await create({ extension: fresh(), name: "read me", detail: "d", password: "Read-me-pass1" });
      expect(await get(e.id)).toEqual(e);
    });

    it("finds an extension by its id written in upper case", async () => {
      const e = await create({ extension: fresh() });
      const res = await api.get<Extension>(`/v1.0/extensions/${e.id.toUpperCase()}`);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(e.id);
    });

    const routes = [
      ["GET", ""],
      ["PUT", ""],
      ["DELETE", ""],
      ["POST", "/direct-hash-regenerate"],
    ] as const;

    it.each(routes)("answers a malformed id with 400 INVALID_ID on %s", async (method, suffix) => {
      for (const bad of ["not-a-uuid", "3f1c2b4a5d6e4f708a9b0c1d2e3f4a5b", `${UNKNOWN_ID}x`, "%20"]) {
        const res = await api.call(
          method,
          `/v1.0/extensions/${bad}${suffix}`,
          method === "PUT" ? {} : undefined,
        );
        expectError(res, 400, "INVALID_ID", "id");
      }
    });

    it.each(routes)("answers an unknown id with 404 EXTENSION_NOT_FOUND on %s", async (method, suffix) => {
      const res = await api.call(
        method,
        `/v1.0/extensions/${UNKNOWN_ID}${suffix}`,
        method === "PUT" ? { name: "x" } : undefined,
      );
      expectError(res, 404, "EXTENSION_NOT_FOUND");
    });

    it.each(routes)("hides another customer's extension behind 404 on %s", async (method, suffix) => {
      const res = await api.call<ErrorBody>(
        method,
        `/v1.0/extensions/${other.ext.id}${suffix}`,
        method === "PUT" ? { name: "hijacked", password: h.secret("Hijack-pass-1") } : undefined,
      );
      expectError(res, 404, "EXTENSION_NOT_FOUND");
      // The same answer as for an id that does not exist at all: nothing is revealed.
      const unknown = await api.call<ErrorBody>(
        method,
        `/v1.0/extensions/${UNKNOWN_ID}${suffix}`,
        method === "PUT" ? { name: "x" } : undefined,
      );
      expect(unknown.body.error.message).toBe(res.body.error.message);
      const theirs = await other.api.get<Extension>(`/v1.0/extensions/${other.ext.id}`);
      expect(theirs.status).toBe(200);
      expect(theirs.body).toEqual(other.ext);
    });

    it("leaves another customer's extensions out of the list", async () => {
      const ours = await listAll();
      expect(ours.length).toBeGreaterThan(0);
      expect(ours.every((e) => e.customer_id === customerId)).toBe(true);
      expect(ours.map((e) => e.id)).not.toContain(other.ext.id);
      const theirs = await listAll(other.api);
      expect(theirs.map((e) => e.id)).toContain(other.ext.id);
      expect(theirs.every((e) => e.customer_id === other.customerId)).toBe(true);
    });
  });

  describe("updating", () => {
    it("keeps every omitted field, the password included", async () => {
      const pw = "Keep-me-pass-1";
      const e = await create({ extension: fresh(), name: "n0", detail: "d0", password: pw });
      const res = await api.put<Extension>(`/v1.0/extensions/${e.id}`, { name: "n1" });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: "n1", detail: "d0", extension: e.extension });
      const after = await get(e.id);
      expect(after).toMatchObject({ name: "n1", detail: "d0", password: pw, direct_hash: e.direct_hash });
      const row = await stored(e.id);
      expect(row?.ha1_md5).toBe(md5(`${e.extension}:${domainName}:${pw}`));
      await api.put(`/v1.0/extensions/${e.id}`, { detail: "d2" });
      expect(await get(e.id)).toMatchObject({ name: "n1", detail: "d2", password: pw });
    });

    it("changes nothing but tm_update for an empty object", async () => {
      const e = await create({ extension: fresh(), name: "same", detail: "same", password: "Same-pass-12" });
      const res = await api.put<Extension>(`/v1.0/extensions/${e.id}`, {});
      expect(res.status).toBe(200);
      expect(res.body.tm_update).toMatch(TIMESTAMP);
      const after = await get(e.id);
      expect({ ...after, tm_update: "" }).toEqual(e);
    });

    it("replaces the digest HA1 values with those of a new password", async () => {
      const e = await create({ extension: fresh(), password: "Old-password-1" });
      const pw = h.secret("New-password-2");
      const res = await api.put<Extension>(`/v1.0/extensions/${e.id}`, { password: pw });
      expect(res.body.password).toBe(pw);
      expect((await get(e.id)).password).toBe(pw);
      const row = await stored(e.id);
      expect(row?.ha1_md5).toBe(md5(`${e.extension}:${domainName}:${pw}`));
      expect(row?.ha1_sha256).toBe(sha256(`${e.extension}:${domainName}:${pw}`));
    });

    it("never changes the extension name, even when the body sends one", async () => {
      const pw = "Fixed-name-pass1";
      const e = await create({ extension: fresh(), password: pw });
      const taken = fresh();
      const res = await api.put<Extension>(`/v1.0/extensions/${e.id}`, {
        extension: taken,
        username: taken,
        name: "renamed",
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ extension: e.extension, username: e.extension, name: "renamed" });
      expect(await get(e.id)).toMatchObject({ extension: e.extension, username: e.extension });
      expect(await h.server.core.stores.extensions.getLiveByName(customerId, taken)).toBeUndefined();
      expect((await stored(e.id))?.ha1_md5).toBe(md5(`${e.extension}:${domainName}:${pw}`));
    });

    it("ignores unknown and server-owned fields in the body", async () => {
      const e = await create({ extension: fresh() });
      const res = await api.put<Extension>(`/v1.0/extensions/${e.id}`, {
        color: "blue",
        id: UNKNOWN_ID,
        customer_id: other.customerId,
        direct_hash: "000000000000",
        tm_create: "2001-01-01 00:00:00.000000",
        detail: "only this",
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: e.id,
        customer_id: customerId,
        direct_hash: e.direct_hash,
        tm_create: e.tm_create,
        detail: "only this",
      });
    });

    it("moves tm_update forward on each update and never changes tm_create", async () => {
      const e = await create({ extension: fresh() });
      const first = await api.put<Extension>(`/v1.0/extensions/${e.id}`, { name: "one" });
      const second = await api.put<Extension>(`/v1.0/extensions/${e.id}`, { name: "two" });
      expect(first.body.tm_update >= e.tm_create).toBe(true);
      expect(second.body.tm_update > first.body.tm_update).toBe(true);
      expect(second.body.tm_create).toBe(e.tm_create);
      expect(second.body.tm_delete).toBe("");
    });

    const invalidUpdates: Array<{ why: string; body: unknown; field: string }> = [
      { why: "a 7-character password", body: { password: "Shrt-7?" }, field: "password" },
      { why: "an 81-character password", body: { password: "R".repeat(81) }, field: "password" },
      { why: "a password with a space", body: { password: "upd pass-3" }, field: "password" },
      { why: "a non-ASCII password", body: { password: "ünïcode-pw4" }, field: "password" },
      { why: "a numeric password", body: { password: 87654321 }, field: "password" },
      { why: "a null password", body: { password: null }, field: "password" },
      { why: "a 256-character name", body: { name: "n".repeat(256) }, field: "name" },
      { why: "a null name", body: { name: null }, field: "name" },
      { why: "a name with a NUL character", body: { name: "x\u0000" }, field: "name" },
      { why: "a 1025-character detail", body: { detail: "d".repeat(1025) }, field: "detail" },
      { why: "an array body", body: [], field: "body" },
      { why: "no body at all", body: undefined, field: "body" },
    ];

    it.each(invalidUpdates)(
      "refuses $why with 400 naming $field and changes nothing",
      async ({ body, field }) => {
        const e = await create({ extension: fresh(), name: "before", password: "Before-pass-1" });
        const pw = (body as { password?: unknown } | undefined)?.password;
        if (typeof pw === "string") h.secret(pw);
        const res =
          body === undefined
            ? await api.call("PUT", `/v1.0/extensions/${e.id}`)
            : await api.put(`/v1.0/extensions/${e.id}`, body);
        expectError(res, 400, `INVALID_${field.toUpperCase()}`, field);
        expect(await get(e.id)).toEqual(e);
      },
    );
  });

  describe("deleting", () => {
    it("still returns a deleted extension from GET, with tm_delete set", async () => {
      const e = await create({ extension: fresh(), name: "gone soon" });
      const del = await api.del<Extension>(`/v1.0/extensions/${e.id}`);
      expect(del.status).toBe(200);
      expect(del.body.tm_delete).toMatch(TIMESTAMP);
      const after = await get(e.id);
      expect(after.tm_delete).toBe(del.body.tm_delete);
      expect(after).toMatchObject({
        id: e.id,
        extension: e.extension,
        name: "gone soon",
        tm_create: e.tm_create,
      });
    });

    it("drops a deleted extension from the list", async () => {
      const e = await create({ extension: fresh() });
      expect((await listAll()).map((x) => x.id)).toContain(e.id);
      await api.del(`/v1.0/extensions/${e.id}`);
      expect((await listAll()).map((x) => x.id)).not.toContain(e.id);
    });

    it("answers 404 to PUT, DELETE and direct-hash-regenerate on a deleted extension", async () => {
      const e = await create({ extension: fresh(), name: "kept" });
      const deleted = (await api.del<Extension>(`/v1.0/extensions/${e.id}`)).body;
      expectError(await api.put(`/v1.0/extensions/${e.id}`, { name: "changed" }), 404, "EXTENSION_NOT_FOUND");
      expectError(await api.del(`/v1.0/extensions/${e.id}`), 404, "EXTENSION_NOT_FOUND");
      expectError(
        await api.post(`/v1.0/extensions/${e.id}/direct-hash-regenerate`),
        404,
        "EXTENSION_NOT_FOUND",
      );
      const after = await get(e.id);
      expect(after).toMatchObject({ name: "kept", direct_hash: e.direct_hash, tm_delete: deleted.tm_delete });
    });

    it("lets a deleted extension's name be reused", async () => {
      const name = fresh("reuse");
      const first = await create({ extension: name, password: "First-owner-1" });
      await api.del(`/v1.0/extensions/${first.id}`);
      const second = await create({ extension: name, password: "Second-owner-2" });
      expect(second.id).not.toBe(first.id);
      expect(second.direct_hash).not.toBe(first.direct_hash);
      expect((await get(first.id)).tm_delete).toMatch(TIMESTAMP);
      expect((await get(second.id)).tm_delete).toBe("");
      const live = (await listAll()).filter((x) => x.extension === name);
      expect(live.map((x) => x.id)).toEqual([second.id]);
      // ...and once reused, the name is taken again.
      expectError(await api.post("/v1.0/extensions", { extension: name }), 409, "EXTENSION_ALREADY_EXISTS");
    });

    it("stops resolving a deleted extension's direct hash", async () => {
      const e = await create({ extension: fresh() });
      const byHash = () => h.server.core.stores.extensions.getLiveByDirectHash(e.direct_hash);
      expect((await byHash())?.id).toBe(e.id);
      await api.del(`/v1.0/extensions/${e.id}`);
      expect(await byHash()).toBeUndefined();
    });
  });

  describe("regenerating the direct hash", () => {
    it("draws a new 12-hex hash and the old one stops resolving at once", async () => {
      const e = await create({ extension: fresh(), name: "hashy", password: "Hashy-pass-1" });
      const res = await api.post<Extension>(`/v1.0/extensions/${e.id}/direct-hash-regenerate`);
      expect(res.status).toBe(200);
      expect(res.body.direct_hash).toMatch(DIRECT_HASH);
      expect(res.body.direct_hash).not.toBe(e.direct_hash);
      expect(res.body).toMatchObject({ name: "hashy", password: "Hashy-pass-1", tm_create: e.tm_create });
      expect(res.body.tm_update).toMatch(TIMESTAMP);
      const ext = h.server.core.stores.extensions;
      expect(await ext.getLiveByDirectHash(e.direct_hash)).toBeUndefined();
      expect((await ext.getLiveByDirectHash(res.body.direct_hash))?.id).toBe(e.id);
      expect((await get(e.id)).direct_hash).toBe(res.body.direct_hash);
    });

    it("accepts an empty body sent as application/json", async () => {
      const e = await create({ extension: fresh() });
      const res = await api.post<Extension>(`/v1.0/extensions/${e.id}/direct-hash-regenerate`, "", {
        "content-type": "application/json",
      });
      expect(res.status).toBe(200);
      expect(res.body.direct_hash).not.toBe(e.direct_hash);
    });
  });

  describe("listing", () => {
    it("lists live extensions newest first, with next_page_token the last item's tm_create", async () => {
      for (let i = 0; i < 3; i++) await create({ extension: fresh("order") });
      const res = await api.get<Page<Extension>>("/v1.0/extensions?page_size=5");
      expect(res.status).toBe(200);
      const items = res.body.result;
      expect(items).toHaveLength(5);
      for (let i = 1; i < items.length; i++) {
        expect((items[i - 1]?.tm_create ?? "") > (items[i]?.tm_create ?? "")).toBe(true);
      }
      expect(res.body.next_page_token).toBe(items[4]?.tm_create);
      for (const item of items) expect(item).toEqual(await get(item.id));
    });

    it("keeps the list whole for the caller's own domain_id and ignores unknown parameters", async () => {
      const all = await listAll();
      expect(await listAll(api, `&domain_id=${domainId}`)).toEqual(all);
      expect(await listAll(api, `&domain_id=${domainId.toUpperCase()}&colour=blue&token=`)).toEqual(all);
    });

    it("answers an empty list for a domain_id that is not the caller's", async () => {
      for (const id of [other.domainId, UNKNOWN_ID]) {
        const res = await api.get<Page<Extension>>(`/v1.0/extensions?domain_id=${id}`);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ result: [], next_page_token: "" });
      }
    });

    it("refuses a malformed domain_id in the list with 400", async () => {
      expectError(await api.get("/v1.0/extensions?domain_id=abc"), 400, "INVALID_DOMAIN_ID", "domain_id");
    });

    it.each(["0", "-1", "abc", "1.5", "1e3", "+5", " 5"])(
      "refuses page_size=%j with 400 INVALID_PAGE_SIZE",
      async (size) => {
        const res = await api.get(`/v1.0/extensions?page_size=${encodeURIComponent(size)}`);
        expectError(res, 400, "INVALID_PAGE_SIZE", "page_size");
      },
    );

    it("returns exactly one item for page_size=1", async () => {
      const res = await api.get<Page<Extension>>("/v1.0/extensions?page_size=1");
      expect(res.body.result).toHaveLength(1);
      expect(res.body.next_page_token).toBe(res.body.result[0]?.tm_create);
    });

    it("clamps page_size above 100 to 100, and defaults to 100", async () => {
      const live = (await listAll()).length;
      const missing = Math.max(0, 101 - live);
      for (let i = 0; i < missing; i += 10) {
        await Promise.all(
          Array.from({ length: Math.min(10, missing - i) }, () => create({ extension: fresh("bulk") })),
        );
      }
      const total = (await listAll()).length;
      expect(total).toBeGreaterThanOrEqual(101);
      for (const q of ["?page_size=1000", "?page_size=101", "?page_size=99999999999999999999", ""]) {
        const res = await api.get<Page<Extension>>(`/v1.0/extensions${q}`);
        expect(res.status, q).toBe(200);
        expect(res.body.result, q).toHaveLength(100);
      }
      const first = await api.get<Page<Extension>>("/v1.0/extensions?page_size=1000");
      const rest = await api.get<Page<Extension>>(
        `/v1.0/extensions?page_size=1000&page_token=${encodeURIComponent(first.body.next_page_token)}`,
      );
      expect(rest.body.result).toHaveLength(total - 100);
    });

    it("accepts the page token in RFC 3339 form, with Z or a zone offset", async () => {
      const first = await api.get<Page<Extension>>("/v1.0/extensions?page_size=2");
      const token = first.body.next_page_token;
      const expected = await api.get<Page<Extension>>(
        `/v1.0/extensions?page_size=3&page_token=${encodeURIComponent(token)}`,
      );
      expect(expected.body.result).toHaveLength(3);
      for (const form of [rfc3339(token), rfc3339(token).replace("Z", "+00:00"), rfc3339(token, 2)]) {
        const res = await api.get<Page<Extension>>(
          `/v1.0/extensions?page_size=3&page_token=${encodeURIComponent(form)}`,
        );
        expect(res.status, form).toBe(200);
        expect(res.body, form).toEqual(expected.body);
      }
    });

    it("treats a page token far in the future as the start of the list", async () => {
      const start = await api.get<Page<Extension>>("/v1.0/extensions?page_size=4");
      const future = await api.get<Page<Extension>>(
        "/v1.0/extensions?page_size=4&page_token=2999-01-01T00:00:00Z",
      );
      expect(future.body).toEqual(start.body);
    });

    it.each([
      "garbage",
      "2021-02-30 00:00:00.000000",
      "2021-02-18 24:00:00.000000",
      "2021-02-18 12:42:27.1234567",
      "2021-02-18",
      "1613652147688282",
    ])("refuses page_token=%j with 400 INVALID_PAGE_TOKEN", async (token) => {
      const res = await api.get(`/v1.0/extensions?page_token=${encodeURIComponent(token)}`);
      expectError(res, 400, "INVALID_PAGE_TOKEN", "page_token");
    });
  });

  describe("roles", () => {
    let agent: Client;
    let manager: Client;
    beforeAll(async () => {
      const tenants = h.server.core.services.tenants;
      const login = async (username: string, role: string) => {
        const password = h.secret(`${role}-Pa55word-${username}`);
        await tenants.createUser(customerId, { username, password, role });
        const res = await client(h.url).post<{ token: string }>("/auth/login", { username, password });
        expect(res.status).toBe(200);
        return client(h.url, h.secret(res.body.token));
      };
      agent = await login("agent-1", "agent");
      manager = await login("manager-1", "manager");
    });

    it("forbids an agent every extension route with 403", async () => {
      const e = await create({ extension: fresh() });
      const calls: Array<[string, string, unknown]> = [
        ["POST", "/v1.0/extensions", { extension: fresh() }],
        ["GET", "/v1.0/extensions", undefined],
        ["GET", `/v1.0/extensions/${e.id}`, undefined],
        ["PUT", `/v1.0/extensions/${e.id}`, { name: "agent was here" }],
        ["DELETE", `/v1.0/extensions/${e.id}`, undefined],
        ["POST", `/v1.0/extensions/${e.id}/direct-hash-regenerate`, undefined],
      ];
      for (const [method, path, body] of calls) {
        expectError(await agent.call(method, path, body), 403, "PERMISSION_DENIED");
      }
      expect(await get(e.id)).toEqual(e);
    });

    it("lets a manager manage extensions", async () => {
      const e = await create({ extension: fresh("mgr") }, manager);
      expect(e.customer_id).toBe(customerId);
      expect((await manager.put<Extension>(`/v1.0/extensions/${e.id}`, { name: "by manager" })).status).toBe(
        200,
      );
      expect((await manager.del<Extension>(`/v1.0/extensions/${e.id}`)).status).toBe(200);
    });
  });

  describe("the HTTP envelope", () => {
    it("refuses a body over 64 KiB with 413 on POST and PUT", async () => {
      const e = await create({ extension: fresh() });
      const big = { extension: fresh(), detail: "x".repeat(65 * 1024) };
      const post = await api.post("/v1.0/extensions", big);
      expectError(post, 413, "BODY_TOO_LARGE");
      const put = await api.put(`/v1.0/extensions/${e.id}`, { detail: "x".repeat(65 * 1024) });
      expectError(put, 413, "BODY_TOO_LARGE");
      expect(await h.server.core.stores.extensions.getLiveByName(customerId, big.extension)).toBeUndefined();
    });

    it("refuses a body that is not JSON with 400 INVALID_JSON_BODY", async () => {
      const e = await create({ extension: fresh() });
      for (const text of ['{"extension":', "extension=1", "{'extension':'1'}"]) {
        expectError(await api.post("/v1.0/extensions", text), 400, "INVALID_JSON_BODY");
        expectError(await api.put(`/v1.0/extensions/${e.id}`, text), 400, "INVALID_JSON_BODY");
      }
    });

    it("refuses a non-JSON content type with 415, even when the text is JSON", async () => {
      const e = await create({ extension: fresh() });
      const json = JSON.stringify({ extension: fresh() });
      for (const type of [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/xml",
        "multipart/form-data",
      ]) {
        expectError(
          await api.post("/v1.0/extensions", json, { "content-type": type }),
          415,
          "UNSUPPORTED_MEDIA_TYPE",
        );
        expectError(
          await api.put(`/v1.0/extensions/${e.id}`, '{"name":"x"}', { "content-type": type }),
          415,
          "UNSUPPORTED_MEDIA_TYPE",
        );
      }
      expect((await get(e.id)).name).toBe("");
    });

    it("accepts application/json with a charset parameter", async () => {
      const name = fresh();
      const res = await api.post<Extension>("/v1.0/extensions", JSON.stringify({ extension: name }), {
        "content-type": "application/json; charset=utf-8",
      });
      expect(res.status).toBe(200);
      h.secret(res.body.password);
      expect(res.body.extension).toBe(name);
    });

    it("echoes a valid X-Request-Id in the header and in error.request_id", async () => {
      const ok = await api.get("/v1.0/extensions?page_size=1", { "x-request-id": "trace_ABC-123" });
      expect(ok.headers.get("x-request-id")).toBe("trace_ABC-123");
      const err = await api.get<ErrorBody>(`/v1.0/extensions/${UNKNOWN_ID}`, {
        "x-request-id": "trace_ABC-124",
      });
      expect(err.headers.get("x-request-id")).toBe("trace_ABC-124");
      expect(err.body.error.request_id).toBe("trace_ABC-124");
      const max = "r".repeat(64);
      expect(
        (await api.get("/v1.0/extensions?page_size=1", { "x-request-id": max })).headers.get("x-request-id"),
      ).toBe(max);
    });

    it.each(["has space", "semi;colon", "é", "r".repeat(65)])(
      "replaces the invalid X-Request-Id %j with a generated one",
      async (given) => {
        const res = await api.get<ErrorBody>(`/v1.0/extensions/${UNKNOWN_ID}`, { "x-request-id": given });
        const id = res.headers.get("x-request-id");
        expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
        expect(id).not.toBe(given);
        expect(res.body.error.request_id).toBe(id);
      },
    );

    it("gives every request its own X-Request-Id when none is sent", async () => {
      const a = await api.get<ErrorBody>(`/v1.0/extensions/${UNKNOWN_ID}`);
      const b = await api.get(`/v1.0/extensions/${UNKNOWN_ID}`);
      expect(a.headers.get("x-request-id")).toBeTruthy();
      expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"));
      expect(a.body.error.request_id).toBe(a.headers.get("x-request-id"));
    });
  });

  it("never stores or logs a password or token in clear", async () => {
    await h.assertNoPlaintextSecrets();
  });
});

describe.each(DATABASES)("extension passwords with SIPEXT_SHOW_PASSWORDS=false on %s", (kind) => {
  let h: Harness;
  let api: Client;
  beforeAll(async () => {
    h = await startHarness(kind, { env: { SIPEXT_SHOW_PASSWORDS: "false" } });
    api = client(h.url, h.admin.token);
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  it("shows a given password in the create answer only", async () => {
    const pw = h.secret("Shown-once-pass1");
    const res = await api.post<Extension>("/v1.0/extensions", { extension: "hidden-1", password: pw });
    expect(res.status).toBe(200);
    expect(res.body.password).toBe(pw);
    expect((await api.get<Extension>(`/v1.0/extensions/${res.body.id}`)).body.password).toBe("");
    const list = await api.get<Page<Extension>>("/v1.0/extensions");
    expect(list.body.result.map((e) => e.password)).toEqual([""]);
    const row = await h.server.core.stores.extensions.get(h.admin.customerId, res.body.id);
    expect(row?.password_enc).toBeNull();
    expect(row?.ha1_md5).toBe(md5(`hidden-1:${h.admin.domainName}:${pw}`));
  });

  it("shows a generated password in the create answer only", async () => {
    const res = await api.post<Extension>("/v1.0/extensions", { extension: "hidden-2" });
    expect(res.body.password).toMatch(SIP_PASSWORD);
    h.secret(res.body.password);
    expect((await api.get<Extension>(`/v1.0/extensions/${res.body.id}`)).body.password).toBe("");
    const row = await h.server.core.stores.extensions.get(h.admin.customerId, res.body.id);
    expect(row?.ha1_md5).toBe(md5(`hidden-2:${h.admin.domainName}:${res.body.password}`));
  });

  it("shows a new password in the update answer only", async () => {
    const created = await api.post<Extension>("/v1.0/extensions", { extension: "hidden-3" });
    h.secret(created.body.password);
    const pw = h.secret("Updated-pass-3");
    const res = await api.put<Extension>(`/v1.0/extensions/${created.body.id}`, { password: pw });
    expect(res.body.password).toBe(pw);
    expect((await api.get<Extension>(`/v1.0/extensions/${created.body.id}`)).body.password).toBe("");
    const renamed = await api.put<Extension>(`/v1.0/extensions/${created.body.id}`, {
      name: "no password here",
    });
    expect(renamed.body.password).toBe("");
    const regen = await api.post<Extension>(`/v1.0/extensions/${created.body.id}/direct-hash-regenerate`);
    expect(regen.body.password).toBe("");
    const row = await h.server.core.stores.extensions.get(h.admin.customerId, created.body.id);
    expect(row?.ha1_md5).toBe(md5(`hidden-3:${h.admin.domainName}:${pw}`));
  });

  it("never stores or logs a password or token in clear", async () => {
    await h.assertNoPlaintextSecrets();
  });
});
