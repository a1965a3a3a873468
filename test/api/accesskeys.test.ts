// Access keys (CONTRACT §4): shown once, stored as SHA-256 only, dead at once when deleted or expired.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessKey, CreatedAccessKey } from "../../src/contract/access-key.js";
import type { Page } from "../../src/contract/common.js";
import type { ErrorBody } from "../../src/contract/error.js";
import { sha256Hex } from "../../src/domain/secrets.js";
import { parseTimestamp, systemClock } from "../../src/util/time.js";
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

const FIELDS = [
  "id",
  "customer_id",
  "name",
  "detail",
  "token_prefix",
  "tm_expire",
  "tm_create",
  "tm_update",
  "tm_delete",
];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;
const YEAR_S = 365 * 24 * 3600;

/** Seconds between two API timestamps. */
const secondsBetween = (from: string, to: string) =>
  ((parseTimestamp(to) ?? Number.NaN) - (parseTimestamp(from) ?? Number.NaN)) / 1_000_000;

describe.each(DATABASES)("access keys on %s", (kind) => {
  let h: Harness;
  let own: { dataDir: string; databaseUrl: string | undefined };
  let api: Client;
  // The server's clock runs with real time plus this offset, so a test can jump ahead.
  let offsetUs = 0;
  const base = systemClock();

  beforeAll(async () => {
    // Own data dir and schema, made here so that teardown removes them even if start-up fails.
    own = {
      dataDir: mkdtempSync(join(tmpdir(), "sipext-test-")),
      databaseUrl: kind === "postgres" ? newSchemaUrl() : undefined,
    };
    h = await startHarness(kind, { ...own, clock: () => base() + offsetUs });
    api = client(h.url, h.admin.token);
  });
  afterAll(async () => {
    await h?.close();
    await dropSchema(own.databaseUrl);
    removeDir(own.dataDir);
  });

  async function create(body: Record<string, unknown> = {}): Promise<CreatedAccessKey> {
    const res = await api.post<CreatedAccessKey>("/v1.0/accesskeys", body);
    expect(res.status).toBe(200);
    h.secret(res.body.token ?? "");
    return res.body;
  }
  const works = async (token: string) =>
    (await client(h.url).get(`/v1.0/me?accesskey=${encodeURIComponent(token)}`)).status;

  it("creates a key and shows its token once, with the contract's fields", async () => {
    const res = await api.post<CreatedAccessKey>("/v1.0/accesskeys", {
      name: "ci",
      detail: "for the pipeline",
    });
    expect(res.status).toBe(200);
    const key = res.body;
    h.secret(key.token ?? "");
    expect(Object.keys(key).sort()).toEqual([...FIELDS, "token"].sort());
    expect(key).toMatchObject({ name: "ci", detail: "for the pipeline", customer_id: h.admin.customerId });
    expect(key.tm_create).toMatch(TIMESTAMP);
    expect(key.tm_expire).toMatch(TIMESTAMP);
    expect(key.tm_update).toBe("");
    expect(key.tm_delete).toBe("");
  });

  it('makes tokens of "sxk_" and at least 32 random base64url characters, each one different', async () => {
    const a = await create();
    const b = await create();
    for (const k of [a, b]) {
      expect(k.token).toMatch(/^sxk_[A-Za-z0-9_-]{32,}$/);
      expect(k.token.startsWith(k.token_prefix)).toBe(true);
      expect(k.token_prefix.startsWith("sxk_")).toBe(true);
      expect(k.token_prefix.length).toBeGreaterThan(4);
      expect(k.token_prefix.length).toBeLessThan(k.token.length - 32);
    }
    expect(a.token).not.toBe(b.token);
    expect(a.token_prefix).not.toBe(b.token_prefix);
  });

  it("never shows the token again on GET or in the list", async () => {
    const k = await create({ name: "hidden" });
    const one = await api.get(`/v1.0/accesskeys/${k.id}`);
    expect(one.status).toBe(200);
    expect(Object.keys(one.body).sort()).toEqual([...FIELDS].sort());
    expect(JSON.stringify(one.body)).not.toContain(k.token);
    const list = await api.get<Page<AccessKey>>("/v1.0/accesskeys");
    expect(list.body.result.map((x) => x.id)).toContain(k.id);
    for (const item of list.body.result) expect(item).not.toHaveProperty("token");
    expect(JSON.stringify(list.body)).not.toContain(k.token);
  });

  it("expires a key after one year by default", async () => {
    const k = await create();
    expect(secondsBetween(k.tm_create, k.tm_expire)).toBeCloseTo(YEAR_S, 0);
  });

  it("honours expire in seconds", async () => {
    const k = await create({ expire: 3600 });
    expect(secondsBetween(k.tm_create, k.tm_expire)).toBeCloseTo(3600, 0);
  });

  it.each([0, -5, "10", 1.5, null, 10 * YEAR_S + 1])(
    "rejects expire %j with 400 naming expire",
    async (expire) => {
      const res = await api.post<ErrorBody>("/v1.0/accesskeys", { name: "bad", expire });
      expect(res.status).toBe(400);
      expect(res.body.error.status).toBe("INVALID_ARGUMENT");
      expect(res.body.error.reason).toBe("INVALID_EXPIRE");
      expect(res.body.error.message).toContain("expire");
      const list = await api.get<Page<AccessKey>>("/v1.0/accesskeys");
      expect(list.body.result.map((k) => k.name)).not.toContain("bad");
    },
  );

  it("rejects a name over 255 and a detail over 1024 characters", async () => {
    const name = await api.post<ErrorBody>("/v1.0/accesskeys", { name: "n".repeat(256) });
    expect(name.status).toBe(400);
    expect(name.body.error.message).toContain("name");
    const detail = await api.post<ErrorBody>("/v1.0/accesskeys", { detail: "d".repeat(1025) });
    expect(detail.status).toBe(400);
    expect(detail.body.error.message).toContain("detail");
  });

  it("counts name and detail in characters, not UTF-16 units", async () => {
    const k = await create({ name: "💥".repeat(255), detail: "é".repeat(1024) });
    expect([...k.name]).toHaveLength(255);
    const over = await api.post<ErrorBody>("/v1.0/accesskeys", { name: "💥".repeat(256) });
    expect(over.status).toBe(400);
    expect(over.body.error.message).toContain("name");
  });

  it("gets one key by id, and 404 for an unknown id", async () => {
    const k = await create({ name: "one" });
    const res = await api.get<AccessKey>(`/v1.0/accesskeys/${k.id}`);
    const { token: _token, ...expected } = k;
    expect(res.body).toEqual(expected);
    const missing = await api.get<ErrorBody>("/v1.0/accesskeys/6f1c0a8e-3b5d-4c2a-9e7f-1a2b3c4d5e6f");
    expect(missing.status).toBe(404);
    expect(missing.body.error.reason).toBe("ACCESSKEY_NOT_FOUND");
  });

  it("updates name and detail, keeping an omitted field's value", async () => {
    const k = await create({ name: "before", detail: "kept", expire: 7200 });
    const renamed = await api.put<AccessKey>(`/v1.0/accesskeys/${k.id}`, { name: "after" });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: "after", detail: "kept", tm_expire: k.tm_expire });
    expect(renamed.body.tm_update).toMatch(TIMESTAMP);
    const redetailed = await api.put<AccessKey>(`/v1.0/accesskeys/${k.id}`, { detail: "changed" });
    expect(redetailed.body).toMatchObject({ name: "after", detail: "changed" });
    const empty = await api.put<AccessKey>(`/v1.0/accesskeys/${k.id}`, {});
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ name: "after", detail: "changed" });
    const read = await api.get<AccessKey>(`/v1.0/accesskeys/${k.id}`);
    expect(read.body).toMatchObject({ name: "after", detail: "changed", token_prefix: k.token_prefix });
    expect(await works(k.token)).toBe(200);
  });

  it("deletes a key: 200 with tm_delete, gone from the list, and a second delete is 404", async () => {
    const k = await create({ name: "doomed" });
    const del = await api.del<AccessKey>(`/v1.0/accesskeys/${k.id}`);
    expect(del.status).toBe(200);
    expect(del.body.id).toBe(k.id);
    expect(del.body.tm_delete).toMatch(TIMESTAMP);
    expect(del.body.tm_update).toBe(del.body.tm_delete);
    // Like a deleted extension, a deleted key can still be read, with tm_delete set.
    const read = await api.get<AccessKey>(`/v1.0/accesskeys/${k.id}`);
    expect(read.body.tm_delete).toBe(del.body.tm_delete);
    const list = await api.get<Page<AccessKey>>("/v1.0/accesskeys");
    expect(list.body.result.map((x) => x.id)).not.toContain(k.id);
    expect((await api.del(`/v1.0/accesskeys/${k.id}`)).status).toBe(404);
    expect((await api.put(`/v1.0/accesskeys/${k.id}`, { name: "zombie" })).status).toBe(404);
  });

  it("stops accepting a deleted key at once", async () => {
    const k = await create({ name: "revoked" });
    expect(await works(k.token)).toBe(200);
    expect((await client(h.url, k.token).get("/v1.0/extensions")).status).toBe(200);
    await api.del(`/v1.0/accesskeys/${k.id}`);
    const res = await client(h.url, k.token).get<ErrorBody>("/v1.0/extensions");
    expect(res.status).toBe(401);
    expect(res.body.error.reason).toBe("INVALID_CREDENTIALS");
    expect(await works(k.token)).toBe(401);
  });

  it("stops accepting a key the moment it expires", async () => {
    const k = await create({ name: "short", expire: 60 });
    const long = await create({ name: "long" });
    expect(await works(k.token)).toBe(200);
    offsetUs += 59 * 1_000_000;
    expect(await works(k.token)).toBe(200);
    offsetUs += 2 * 1_000_000;
    const res = await client(h.url, k.token).get<ErrorBody>("/v1.0/me");
    expect(res.status).toBe(401);
    expect(res.body.error.reason).toBe("INVALID_CREDENTIALS");
    expect(await works(long.token)).toBe(200);
  });

  it("stores only the SHA-256 of a token", async () => {
    const k = await create({ name: "hashed" });
    const row = await h.server.core.stores.accessKeys.getByTokenHash(sha256Hex(k.token));
    expect(row?.id).toBe(k.id);
    expect(JSON.stringify(row)).not.toContain(k.token);
    await h.assertNoPlaintextSecrets();
  });

  it("lets an access key manage access keys", async () => {
    const k = await create({ name: "manager key" });
    const c = client(h.url, k.token);
    const made = await c.post<CreatedAccessKey>("/v1.0/accesskeys", { name: "made by a key" });
    expect(made.status).toBe(200);
    h.secret(made.body.token ?? "");
    expect((await c.get(`/v1.0/accesskeys/${made.body.id}`)).status).toBe(200);
  });

  it("rejects a malformed id with 400 naming id", async () => {
    for (const res of [
      await api.get<ErrorBody>("/v1.0/accesskeys/not-a-uuid"),
      await api.put<ErrorBody>("/v1.0/accesskeys/123", { name: "x" }),
      await api.del<ErrorBody>("/v1.0/accesskeys/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"),
    ]) {
      expect(res.status).toBe(400);
      expect(res.body.error.reason).toBe("INVALID_ID");
    }
  });

  describe("paging", () => {
    let all: AccessKey[];

    beforeAll(async () => {
      for (let i = 0; i < 7; i++) await create({ name: `page-${i}` });
      const res = await api.get<Page<AccessKey>>("/v1.0/accesskeys");
      all = res.body.result;
    });

    it("lists newest first with next_page_token the last item's tm_create", async () => {
      expect(all.length).toBeGreaterThanOrEqual(7);
      const times = all.map((k) => k.tm_create);
      expect([...times].sort().reverse()).toEqual(times);
      expect(new Set(times).size).toBe(times.length);
      const res = await api.get<Page<AccessKey>>("/v1.0/accesskeys");
      expect(res.body.next_page_token).toBe(all[all.length - 1]?.tm_create);
      expect(all[0]?.name).toBe("page-6");
    });

    it("walks every key once with page_size=3, ending on an empty page with an empty token", async () => {
      const seen: string[] = [];
      let token = "";
      for (let guard = 0; guard < 50; guard++) {
        const res: ApiResponse<Page<AccessKey>> = await api.get<Page<AccessKey>>(
          `/v1.0/accesskeys?page_size=3&page_token=${encodeURIComponent(token)}`,
        );
        expect(res.status).toBe(200);
        expect(res.body.result.length).toBeLessThanOrEqual(3);
        if (res.body.result.length === 0) {
          expect(res.body.next_page_token).toBe("");
          break;
        }
        expect(res.body.next_page_token).toBe(res.body.result[res.body.result.length - 1]?.tm_create);
        seen.push(...res.body.result.map((k) => k.id));
        token = res.body.next_page_token;
      }
      expect(seen).toEqual(all.map((k) => k.id));
    });

    it("accepts a page token in RFC 3339", async () => {
      const pivot = all[2] as AccessKey;
      const rfc = `${pivot.tm_create.replace(" ", "T")}Z`;
      const res = await api.get<Page<AccessKey>>(`/v1.0/accesskeys?page_token=${encodeURIComponent(rfc)}`);
      expect(res.body.result.map((k) => k.id)).toEqual(all.slice(3).map((k) => k.id));
    });

    it("clamps a page_size over 100 and rejects one below 1 or not a number", async () => {
      expect((await api.get<Page<AccessKey>>("/v1.0/accesskeys?page_size=1000")).status).toBe(200);
      for (const bad of ["0", "-1", "abc", "1.5"]) {
        const res = await api.get<ErrorBody>(`/v1.0/accesskeys?page_size=${bad}`);
        expect(res.status).toBe(400);
        expect(res.body.error.message).toContain("page_size");
      }
      const tok = await api.get<ErrorBody>("/v1.0/accesskeys?page_token=yesterday");
      expect(tok.status).toBe(400);
      expect(tok.body.error.message).toContain("page_token");
    });
  });
});
