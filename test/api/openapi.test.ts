// The served OpenAPI document (CONTRACT §3; issue 14's polish): named components, a summary on
// every operation, a described response per status, only the errors an operation can send, and
// /auth/login without a security requirement. The document does not depend on the database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, stopHarness } from "../helpers/harness.js";

interface Operation {
  summary?: string;
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<
    string,
    { description?: string; content?: Record<string, { schema: { $ref?: string } }> }
  >;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

describe("the OpenAPI document", () => {
  let h: Harness;
  let doc: Document;
  let text: string;
  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ id: `${method.toUpperCase()} ${path}`, op })),
    );
  const op = (id: string) => operations().find((o) => o.id === id)?.op as Operation;
  const statuses = (id: string) => Object.keys(op(id).responses);

  beforeAll(async () => {
    h = await startHarness("sqlite");
    const r = await fetch(`${h.url}/openapi.json`);
    expect(r.status).toBe(200);
    text = await r.text();
    doc = JSON.parse(text) as Document;
  });
  afterAll(() => stopHarness(h));

  it("names its components (no def-N) and refers to them", () => {
    expect(text).not.toMatch(/def-\d/);
    const names = Object.keys(doc.components.schemas);
    expect(names).toEqual(expect.arrayContaining(["Error", "Extension", "CreateExtensionBody", "AccessKey"]));
    for (const n of names) expect(n).toMatch(/^[A-Z][A-Za-z]+$/);
    const json = "application/json";
    expect(op("GET /v1.0/extensions/{id}").responses["200"]?.content?.[json]?.schema.$ref).toBe(
      "#/components/schemas/Extension",
    );
    expect(op("POST /v1.0/extensions").requestBody?.content[json]?.schema.$ref).toBe(
      "#/components/schemas/CreateExtensionBody",
    );
    expect(op("GET /v1.0/extensions/{id}").responses["404"]?.content?.[json]?.schema.$ref).toBe(
      "#/components/schemas/Error",
    );
  });

  it("has a summary on every operation and a description on every response", () => {
    expect(operations().length).toBeGreaterThan(20);
    for (const { id, op } of operations()) {
      expect(op.summary, id).toMatch(/\S/);
      for (const [status, r] of Object.entries(op.responses)) {
        expect(r.description, `${id} ${status}`).toMatch(/\S/);
        expect(r.description, `${id} ${status}`).not.toBe("Default Response");
      }
    }
  });

  it("lists only the errors an operation can send", () => {
    expect(statuses("POST /auth/login")).toEqual(["200", "400", "413", "415", "429"]);
    // 429 everywhere: the API rate limits (CONTRACT §17) come before anything else.
    expect(statuses("POST /auth/logout")).toEqual(["200", "429"]);
    expect(statuses("GET /v1.0/me")).toEqual(["200", "401", "429"]);
    expect(statuses("GET /v1.0/extensions")).toEqual(["200", "400", "401", "403", "429"]);
    expect(statuses("POST /v1.0/extensions")).toEqual([
      "200",
      "400",
      "401",
      "403",
      "409",
      "413",
      "415",
      "429",
    ]);
    expect(statuses("GET /v1.0/extensions/{id}")).toEqual(["200", "400", "401", "403", "404", "429"]);
    expect(statuses("PUT /v1.0/accesskeys/{id}")).toEqual([
      "200",
      "400",
      "401",
      "403",
      "404",
      "413",
      "415",
      "429",
    ]);
    expect(statuses("GET /provisioning/extension")).toEqual(["200", "400", "404", "429"]);
    for (const { id } of operations()) expect(statuses(id), id).not.toContain("500");
  });

  it("shows /auth/login (and logout) without a lock, and every /v1.0 operation behind one", () => {
    expect(op("POST /auth/login").security).toEqual([]);
    expect(op("POST /auth/logout").security).toEqual([]);
    for (const { id, op: o } of operations())
      if (id.includes(" /v1.0/")) expect(o.security, id).toBeUndefined();
  });
});
