// HTTP conventions (CONTRACT §3): one error envelope, request ids, no 500 for any input, OpenAPI.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody } from "../../src/contract/error.js";
import { EXTENSION_PATTERN } from "../../src/contract/extension.js";
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

const STATUS_NAME: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ALREADY_EXISTS",
  429: "RESOURCE_EXHAUSTED",
};

/** The envelope of CONTRACT §3: exactly one key `error` with four strings, the id echoed in the header. */
function expectEnvelope(res: ApiResponse, status: number, reason?: string): ErrorBody["error"] {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = res.body as ErrorBody;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["message", "reason", "request_id", "status"]);
  for (const v of Object.values(body.error)) expect(typeof v).toBe("string");
  if (STATUS_NAME[status]) expect(body.error.status).toBe(STATUS_NAME[status]);
  if (reason) expect(body.error.reason).toBe(reason);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.request_id).toBe(res.headers.get("x-request-id"));
  return body.error;
}

/** Sends bytes on a fresh TCP connection and returns what comes back before the server closes it. */
function rawHttp(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let out = "";
    sock.setTimeout(5000, () => sock.destroy());
    sock.on("data", (d) => {
      out += d.toString("latin1");
    });
    sock.on("error", reject);
    sock.on("close", () => resolve(out));
    sock.end(Buffer.from(payload, "latin1"));
  });
}

const RANDOM_UUID = "3f2b8c1d-9a4e-4b7f-8c6d-5e4f3a2b1c0d";

describe.each(DATABASES)("HTTP conventions on %s", (kind) => {
  let h: Harness;
  let own: { dataDir: string; databaseUrl: string | undefined };
  let api: Client;
  let extId: string;
  let keyId: string;
  let domainId: string;

  beforeAll(async () => {
    // Own data dir and schema, made here so that teardown removes them even if start-up fails.
    own = {
      dataDir: mkdtempSync(join(tmpdir(), "sipext-test-")),
      databaseUrl: kind === "postgres" ? newSchemaUrl() : undefined,
    };
    h = await startHarness(kind, own);
    api = client(h.url, h.admin.token);
    const ext = await api.post("/v1.0/extensions", { extension: "err1", password: "Err-pass-123" });
    expect(ext.status).toBe(200);
    extId = ext.body.id as string;
    const key = await api.post("/v1.0/accesskeys", { name: "errors" });
    h.secret(key.body.token as string);
    keyId = key.body.id as string;
    const domains = await api.get<{ result: Array<{ id: string }> }>("/v1.0/domains");
    domainId = domains.body.result[0]?.id as string;
  });
  afterAll(async () => {
    await h?.close();
    await dropSchema(own.databaseUrl);
    removeDir(own.dataDir);
  });

  describe("error envelope", () => {
    it("answers a body that is not JSON with 400 INVALID_JSON_BODY", async () => {
      expectEnvelope(await api.post("/v1.0/extensions", "{not json"), 400, "INVALID_JSON_BODY");
      expectEnvelope(await api.post("/v1.0/accesskeys", '{"name": "x",}'), 400, "INVALID_JSON_BODY");
      expectEnvelope(await client(h.url).post("/auth/login", "{"), 400, "INVALID_JSON_BODY");
    });

    it("answers a body that is JSON but not an object with 400 naming the body", async () => {
      for (const body of ["[]", '"text"', "42", "null", "true"]) {
        const err = expectEnvelope(await api.post("/v1.0/extensions", body), 400);
        expect(err.message).toContain("body");
      }
    });

    it.each([
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/xml",
    ])("answers a %s body with 415", async (type) => {
      const res = await api.post("/v1.0/extensions", "extension=415", { "content-type": type });
      const err = expectEnvelope(res, 415, "UNSUPPORTED_MEDIA_TYPE");
      expect(err.status).toBe("UNSUPPORTED_MEDIA_TYPE");
      const list = await api.get<{ result: Array<{ extension: string }> }>("/v1.0/extensions");
      expect(list.body.result.map((e) => e.extension)).not.toContain("415");
    });

    it("accepts application/json with a charset", async () => {
      const res = await api.post("/v1.0/accesskeys", JSON.stringify({ name: "charset" }), {
        "content-type": "application/json; charset=utf-8",
      });
      expect(res.status).toBe(200);
      h.secret(res.body.token as string);
    });

    it("answers a body over 64 KiB with 413", async () => {
      const big = JSON.stringify({ extension: "big", detail: "x".repeat(64 * 1024) });
      const err = expectEnvelope(await api.post("/v1.0/extensions", big), 413, "BODY_TOO_LARGE");
      expect(err.status).toBe("PAYLOAD_TOO_LARGE");
      expect(err.message).toContain("64 KiB");
      // Just under the limit is parsed (and then refused for its detail length, not its size).
      const under = JSON.stringify({ extension: "big", detail: "x".repeat(60 * 1024) });
      expectEnvelope(await api.post("/v1.0/extensions", under), 400, "INVALID_DETAIL");
    });

    it.each([
      ["GET", "/v1.0/extensions/abc"],
      ["PUT", "/v1.0/extensions/123"],
      ["DELETE", "/v1.0/extensions/not-a-uuid"],
      ["POST", "/v1.0/extensions/xyz/direct-hash-regenerate"],
      ["GET", "/v1.0/accesskeys/1"],
      ["PUT", "/v1.0/accesskeys/%27%20OR%201%3D1"],
      ["DELETE", "/v1.0/accesskeys/abc"],
      ["GET", "/v1.0/domains/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"],
    ])("answers %s %s (a malformed id) with 400 naming id", async (method, path) => {
      const res = await api.call(method, path, method === "PUT" ? { name: "x" } : undefined);
      const err = expectEnvelope(res, 400, "INVALID_ID");
      expect(err.message).toContain("id");
    });

    it("answers an id far longer than any UUID with the 400 envelope and a request id", async () => {
      for (const path of [
        `/v1.0/extensions/${"9".repeat(300)}`,
        `/v1.0/accesskeys/${"a".repeat(101)}`,
        `/v1.0/domains/${"x".repeat(5000)}`,
        `/v1.0/extensions/${"9".repeat(300)}/direct-hash-regenerate`,
      ]) {
        const res = await api.get(path, { "x-request-id": "long-id-1" });
        const err = expectEnvelope(res, 400, "INVALID_ID");
        expect(err.message).toContain("id");
        expect(err.request_id).toBe("long-id-1");
      }
    });

    it("answers a path with bad percent-encoding with the 400 envelope", async () => {
      const res = await api.get("/v1.0/extensions/%E0%A4%A");
      expectEnvelope(res, 400);
      expect(res.headers.get("x-request-id")).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    });

    it("answers an unknown route with 404 ROUTE_NOT_FOUND", async () => {
      expectEnvelope(await api.get("/v1.0/nothing-here"), 404, "ROUTE_NOT_FOUND");
      expectEnvelope(await api.get("/v2.0/extensions"), 404, "ROUTE_NOT_FOUND");
      // "/" is the web console's page now; a path outside every prefix still has the envelope.
      expectEnvelope(await client(h.url).get("/no-such-page"), 404, "ROUTE_NOT_FOUND");
      expectEnvelope(await api.call("PATCH", `/v1.0/extensions/${extId}`, { name: "x" }), 404);
    });

    it("answers unknown ids of the caller's kind with 404 naming the resource", async () => {
      expectEnvelope(await api.get(`/v1.0/extensions/${RANDOM_UUID}`), 404, "EXTENSION_NOT_FOUND");
      expectEnvelope(await api.get(`/v1.0/accesskeys/${RANDOM_UUID}`), 404, "ACCESSKEY_NOT_FOUND");
      expectEnvelope(await api.get(`/v1.0/domains/${RANDOM_UUID}`), 404, "DOMAIN_NOT_FOUND");
    });

    it("answers a duplicate with 409 ALREADY_EXISTS", async () => {
      const res = await api.post("/v1.0/extensions", { extension: "err1", password: "Err-pass-123" });
      expectEnvelope(res, 409, "EXTENSION_ALREADY_EXISTS");
    });

    it("names the field in a validation error", async () => {
      const err = expectEnvelope(await api.post("/v1.0/extensions", { extension: "a b" }), 400);
      expect(err.reason).toBe("INVALID_EXTENSION");
      expect(err.message).toContain("extension");
      const missing = expectEnvelope(await api.post("/v1.0/extensions", { name: "x" }), 400);
      expect(missing.message).toContain("extension");
    });
  });

  describe("X-Request-Id", () => {
    it("reuses a well-formed request id in the header and in error.request_id", async () => {
      const id = "Abc_123-xyz";
      const ok = await api.get("/v1.0/me", { "x-request-id": id });
      expect(ok.status).toBe(200);
      expect(ok.headers.get("x-request-id")).toBe(id);
      const err = await api.get("/v1.0/extensions/nope", { "x-request-id": id });
      expect(err.headers.get("x-request-id")).toBe(id);
      expect((err.body as unknown as ErrorBody).error.request_id).toBe(id);
      const max = "a".repeat(64);
      expect((await api.get("/v1.0/me", { "x-request-id": max })).headers.get("x-request-id")).toBe(max);
    });

    it.each(["a".repeat(65), "has space", "semi;colon", "dots.are.out", "ünïcode", "<script>"])(
      "replaces the request id %j with a generated one",
      async (given) => {
        const res = await api.get("/v1.0/extensions/nope", { "x-request-id": encodeURI(given) });
        const id = res.headers.get("x-request-id");
        expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
        expect(id).not.toBe(encodeURI(given));
        expect((res.body as unknown as ErrorBody).error.request_id).toBe(id);
      },
    );

    it("generates a different id for each request that brings none", async () => {
      const a = await client(h.url).get("/v1.0/me");
      const b = await client(h.url).get("/v1.0/me");
      const ia = a.headers.get("x-request-id");
      expect(ia).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(ia).not.toBe(b.headers.get("x-request-id"));
      expect((a.body as unknown as ErrorBody).error.request_id).toBe(ia);
    });
  });

  describe("odd input never makes a 500", () => {
    // Deterministic pseudo-random numbers, so a failure can be replayed.
    let seed = 0x5eed;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

    const deep = (n: number): unknown => (n === 0 ? "x" : { a: deep(n - 1), b: [deep(0)] });
    const values: unknown[] = [
      null,
      0,
      -1,
      1e308,
      Number.MAX_SAFE_INTEGER,
      1.5,
      true,
      "",
      " ",
      "💥🎉",
      "\u0000",
      "\u202e",
      "x".repeat(5000),
      [],
      [1, 2],
      {},
      { $ne: null },
      "' OR 1=1 --",
      "../../etc/passwd",
      "%00",
    ];
    const fields = [
      "name",
      "detail",
      "extension",
      "password",
      "domain_id",
      "expire",
      "username",
      "__proto__",
    ];

    function randomBody(): string | undefined {
      switch (Math.floor(rand() * 6)) {
        case 0:
          return undefined;
        case 1:
          return randomBytes(1 + Math.floor(rand() * 200)).toString("latin1");
        case 2:
          return JSON.stringify(deep(1 + Math.floor(rand() * 200)));
        case 3: {
          const o: Record<string, unknown> = {};
          for (let i = 0; i < 3; i++) o[pick(fields)] = pick(values);
          return JSON.stringify(o);
        }
        case 4:
          return `{"constructor":{"prototype":{"polluted":1}},"__proto__":{"admin":true},"extension":${JSON.stringify(pick(values))}}`;
        default:
          return JSON.stringify(pick(values));
      }
    }

    function randomQuery(): string {
      switch (Math.floor(rand() * 5)) {
        case 0:
          return "";
        case 1:
          return `?page_size=${encodeURIComponent(String(pick(values)))}&page_token=${encodeURIComponent(String(pick(values)))}`;
        case 2:
          return `?${"q=1&".repeat(500)}page_size=${"9".repeat(400)}`;
        case 3:
          return `?domain_id=${encodeURIComponent(String(pick(values)))}&page_size=2&page_size=3`;
        default:
          return `?page_token=%E0%A4%A&x[y][z]=1&token=&accesskey=&%ZZ`;
      }
    }

    it("answers every /v1.0 route with a 2xx or a 4xx envelope for 300 odd requests", async () => {
      const idLike = () =>
        pick([
          extId,
          keyId,
          domainId,
          RANDOM_UUID,
          "abc",
          "%F0%9F%92%A5",
          "%E0%A4%A",
          "9".repeat(300),
          `${extId}%00`,
        ]);
      const routes: Array<() => [string, string]> = [
        () => ["POST", "/v1.0/extensions"],
        () => ["GET", "/v1.0/extensions"],
        () => ["GET", `/v1.0/extensions/${idLike()}`],
        () => ["PUT", `/v1.0/extensions/${idLike()}`],
        () => ["DELETE", `/v1.0/extensions/${idLike()}`],
        () => ["POST", `/v1.0/extensions/${idLike()}/direct-hash-regenerate`],
        () => ["POST", "/v1.0/accesskeys"],
        () => ["GET", "/v1.0/accesskeys"],
        () => ["GET", `/v1.0/accesskeys/${idLike()}`],
        () => ["PUT", `/v1.0/accesskeys/${idLike()}`],
        () => ["DELETE", `/v1.0/accesskeys/${idLike()}`],
        () => ["GET", "/v1.0/domains"],
        () => ["GET", `/v1.0/domains/${idLike()}`],
        () => ["GET", "/v1.0/customer"],
        () => ["GET", "/v1.0/me"],
        () => ["POST", "/auth/login"],
      ];
      const contentTypes = ["application/json", "application/json", "text/plain", "application/octet-stream"];
      const failures: string[] = [];
      for (let i = 0; i < 300; i++) {
        const [method, path] = pick(routes)();
        const query = randomQuery();
        const body = method === "GET" || method === "DELETE" ? undefined : randomBody();
        const headers: Record<string, string> = {};
        if (body !== undefined) headers["content-type"] = pick(contentTypes);
        if (rand() < 0.1)
          headers.authorization = pick([
            "Bearer",
            "Bearer ",
            "Basic abc",
            "Bearer a.b.c",
            "Bearer sxk_\u00ff",
          ]);
        let res: ApiResponse;
        try {
          res = await api.call(method, `${path}${query}`, body, headers);
        } catch (err) {
          // fetch itself refuses some header values (e.g. non-Latin-1); nothing reached the server.
          if (err instanceof TypeError && /header/i.test(String(err.cause ?? err.message))) continue;
          throw err;
        }
        if (res.status >= 500 || res.status < 200) {
          failures.push(`${res.status} ${method} ${path}${query.slice(0, 80)} ${String(body).slice(0, 80)}`);
          continue;
        }
        if (res.status >= 400) {
          const err = (res.body as ErrorBody).error;
          if (!err || typeof err.reason !== "string" || err.request_id !== res.headers.get("x-request-id")) {
            failures.push(
              `no envelope: ${res.status} ${method} ${path} ${JSON.stringify(res.body).slice(0, 120)}`,
            );
          }
        }
      }
      expect(failures).toEqual([]);
      // Still alive and still correct.
      const me = await api.get("/v1.0/me");
      expect(me.status).toBe(200);
      expect(me.body.type).toBe("user");
      expect(h.logs()).not.toContain('"level":50');
    });

    it("answers text with a NUL character with 400 or 401, never 500", async () => {
      const nul = "a\u0000b";
      const key = await api.post<ErrorBody>("/v1.0/accesskeys", { name: nul });
      expectEnvelope(key, 400, "INVALID_NAME");
      expectEnvelope(await api.post("/v1.0/accesskeys", { detail: nul }), 400, "INVALID_DETAIL");
      expectEnvelope(await api.put(`/v1.0/accesskeys/${keyId}`, { name: nul }), 400, "INVALID_NAME");
      expectEnvelope(await client(h.url).post("/auth/login", { username: nul, password: nul }), 401);
      expectEnvelope(await client(h.url).get(`/v1.0/me?accesskey=sxk_${encodeURIComponent(nul)}`), 401);
      expectEnvelope(await client(h.url).get(`/v1.0/me?token=${encodeURIComponent(nul)}`), 401);
      expectEnvelope(await api.get(`/v1.0/accesskeys?page_token=${encodeURIComponent(nul)}`), 400);
    });

    it("survives a very long URL, control characters and a negative zero page size", async () => {
      const long = await api.get(`/v1.0/extensions?page_token=${"x".repeat(60_000)}`);
      expect(long.status).toBeLessThan(500);
      const ctrl = await api.get("/v1.0/extensions/%00%01%02");
      expect(ctrl.status).toBe(400);
      const neg = await api.get("/v1.0/extensions?page_size=-0");
      expect(neg.status).toBe(400);
      expect((await api.get("/v1.0/me")).status).toBe(200);
    });

    it("answers malformed HTTP on a raw socket with 400 and keeps serving", async () => {
      const port = Number(new URL(h.url).port);
      for (const raw of [
        "POST /v1.0/extensions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        "GET /v1.0/me HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "\u0000\u0001garbage\r\n\r\n",
      ]) {
        const answer = await rawHttp(port, raw);
        expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
      }
      expect((await api.get("/v1.0/me")).status).toBe(200);
    });
  });

  describe("OpenAPI", () => {
    let doc: {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components?: { schemas?: Record<string, unknown> };
    };

    beforeAll(async () => {
      const res = await client(h.url).get<typeof doc>("/openapi.json");
      expect(res.status).toBe(200);
      doc = res.body;
    });

    it("is an OpenAPI 3.1 document", () => {
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    });

    it.each([
      ["/auth/login", ["post"]],
      ["/v1.0/customer", ["get", "put"]],
      ["/v1.0/customer/webhook-secret-regenerate", ["post"]],
      ["/v1.0/webhook-deliveries", ["get"]],
      ["/v1.0/me", ["get"]],
      ["/v1.0/domains", ["get"]],
      ["/v1.0/domains/{id}", ["get"]],
      ["/v1.0/accesskeys", ["get", "post"]],
      ["/v1.0/accesskeys/{id}", ["get", "put", "delete"]],
      ["/v1.0/extensions", ["get", "post"]],
      ["/v1.0/extensions/{id}", ["get", "put", "delete"]],
      ["/v1.0/extensions/{id}/direct-hash-regenerate", ["post"]],
    ])("documents %s (%j)", (path, methods) => {
      const item = doc.paths[path];
      expect(item, `missing path ${path}`).toBeDefined();
      for (const m of methods) expect(item?.[m], `${m} ${path}`).toBeDefined();
    });

    /** A schema, or the component it refers to (`#/components/schemas/<name>`). */
    const named = (schema: unknown): unknown => {
      const ref = (schema as { $ref?: string } | undefined)?.$ref;
      if (!ref) return schema;
      const components = (doc as unknown as { components: { schemas: Record<string, unknown> } }).components;
      return components.schemas[ref.replace("#/components/schemas/", "")];
    };

    it("carries the extension pattern in the extension create schema", () => {
      const post = doc.paths["/v1.0/extensions"]?.post as {
        requestBody: {
          content: Record<string, { schema: { properties: Record<string, { pattern?: string }> } }>;
        };
      };
      // The body is the named component CreateExtensionBody (src/api/openapi.ts).
      const schema = named(post.requestBody.content["application/json"]?.schema) as {
        properties: Record<string, { pattern?: string }>;
      };
      expect(schema?.properties.extension?.pattern).toBe(EXTENSION_PATTERN);
      // And it is the pattern that really validates requests.
      expect(new RegExp(EXTENSION_PATTERN).test("a b")).toBe(false);
    });

    it("documents the extension object with its properties in the contract's order", () => {
      const get = doc.paths["/v1.0/extensions/{id}"]?.get as {
        responses: Record<
          string,
          { content: Record<string, { schema: { properties: Record<string, unknown> } }> }
        >;
      };
      const schema = named(get.responses["200"]?.content["application/json"]?.schema) as {
        properties: Record<string, unknown>;
      };
      expect(Object.keys(schema?.properties ?? {})).toEqual([
        "id",
        "customer_id",
        "name",
        "detail",
        "domain_id",
        "extension",
        "domain_name",
        "username",
        "password",
        "direct_hash",
        "tm_create",
        "tm_update",
        "tm_delete",
      ]);
    });

    it("documents the error body", () => {
      const text = JSON.stringify(doc);
      expect(text).toContain("request_id");
      expect(text).toContain("reason");
    });

    it("serves the interactive docs as HTML", async () => {
      const res = await fetch(`${h.url}/docs`, { redirect: "follow" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/text\/html/);
      expect(await res.text()).toMatch(/<html/i);
    });
  });
});
