// Every request of the seed tutorial (seed/extension-tutorial.txt), replayed with our ids, once with
// the JWT in `?token=` as the seed sends it and once with an access key in `?accesskey=` (CONTRACT §8).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "../../src/contract/common.js";
import type { Extension } from "../../src/contract/extension.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";

/** CONTRACT §6: the extension object, keys in this order. */
const EXTENSION_KEYS = [
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
];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DIRECT_HASH = /^[0-9a-f]{12}$/;

// The seed's request bodies, verbatim except for domain_id.
const SEED_CREATE = {
  name: "test domain",
  detail: "test domain creation",
  extension: "test12",
  password: "27a4d0f2-757c-11eb-bc8f-4f045857b89c",
};
const SEED_UPDATE = {
  name: "update test extension name",
  detail: "update test extension detail",
  password: "5316382a-757c-11eb-9348-bb32547e99c4",
};

describe.each(DATABASES)("the seed tutorial on %s", (kind) => {
  let h: Harness;
  let anon: Client;
  let domainId: string;
  let accessKey: string;

  beforeAll(async () => {
    h = await startHarness(kind);
    h.secret(SEED_CREATE.password);
    h.secret(SEED_UPDATE.password);
    anon = client(h.url);
    const admin = client(h.url, h.admin.token);
    const domains = await admin.get<{ result: Array<{ id: string; domain_name: string }> }>("/v1.0/domains");
    expect(domains.status).toBe(200);
    const [domain] = domains.body.result;
    if (!domain) throw new Error("the bootstrap customer has no domain");
    domainId = domain.id;
    const key = await admin.post<{ token: string }>("/v1.0/accesskeys", { name: "seed replay" });
    expect(key.status).toBe(200);
    accessKey = h.secret(key.body.token);
  });

  afterAll(async () => {
    await stopHarness(h);
  });

  /** Checks everything the contract says about any extension object. */
  function expectExtensionShape(e: Extension): void {
    expect(Object.keys(e)).toEqual(EXTENSION_KEYS);
    expect(e.id).toMatch(UUID);
    expect(e.customer_id).toBe(h.admin.customerId);
    expect(e.domain_id).toBe(domainId);
    expect(e.username).toBe(e.extension);
    expect(e.domain_name).toBe(`${h.admin.customerId}.registrar.localhost`);
    expect(e.direct_hash).toMatch(DIRECT_HASH);
    expect(e.tm_create).toMatch(TIMESTAMP);
    if (e.tm_update !== "") expect(e.tm_update).toMatch(TIMESTAMP);
    if (e.tm_delete !== "") expect(e.tm_delete).toMatch(TIMESTAMP);
  }

  describe.each([
    ["?token=", "token"],
    ["?accesskey=", "accesskey"],
  ])("with the credential in %s", (_label, param) => {
    const carrier = () => `${param}=${encodeURIComponent(param === "token" ? h.admin.token : accessKey)}`;
    let created: Extension;
    let updated: Extension;

    it("lists no extensions before the first is created, with an empty next_page_token", async () => {
      const res = await anon.get<Page<Extension>>(`/v1.0/extensions?${carrier()}&domain_id=${domainId}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ result: [], next_page_token: "" });
    });

    it("creates the seed's extension from the seed's exact body", async () => {
      const res = await anon.post<Extension>(`/v1.0/extensions?${carrier()}`, {
        ...SEED_CREATE,
        domain_id: domainId,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expectExtensionShape(res.body);
      expect(res.body).toMatchObject({ ...SEED_CREATE, domain_id: domainId, username: "test12" });
      expect(res.body.tm_update).toBe("");
      expect(res.body.tm_delete).toBe("");
      created = res.body;
    });

    it("lists the created extension, with next_page_token equal to its tm_create", async () => {
      const res = await anon.get<Page<Extension>>(`/v1.0/extensions?${carrier()}&domain_id=${domainId}`);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(["result", "next_page_token"]);
      expect(res.body.result).toHaveLength(1);
      const [item] = res.body.result;
      if (!item) throw new Error("empty list");
      expectExtensionShape(item);
      expect(item).toEqual(created);
      expect(res.body.next_page_token).toBe(created.tm_create);
    });

    it("answers the page after the last one with an empty result and an empty next_page_token", async () => {
      const res = await anon.get<Page<Extension>>(
        `/v1.0/extensions?${carrier()}&domain_id=${domainId}&page_token=${encodeURIComponent(created.tm_create)}`,
      );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ result: [], next_page_token: "" });
    });

    it("gets the detail of the created extension", async () => {
      const res = await anon.get<Extension>(`/v1.0/extensions/${created.id}?${carrier()}`);
      expect(res.status).toBe(200);
      expectExtensionShape(res.body);
      expect(res.body).toEqual(created);
      expect(res.body.password).toBe(SEED_CREATE.password);
    });

    it("updates the extension with the seed's body and sets tm_update", async () => {
      const res = await anon.put<Extension>(`/v1.0/extensions/${created.id}?${carrier()}`, SEED_UPDATE);
      expect(res.status).toBe(200);
      expectExtensionShape(res.body);
      expect(res.body).toMatchObject({
        ...SEED_UPDATE,
        id: created.id,
        extension: "test12",
        username: "test12",
        direct_hash: created.direct_hash,
        tm_create: created.tm_create,
        tm_delete: "",
      });
      expect(res.body.tm_update).toMatch(TIMESTAMP);
      expect(res.body.tm_update >= created.tm_create).toBe(true);
      updated = res.body;
      const again = await anon.get<Extension>(`/v1.0/extensions/${created.id}?${carrier()}`);
      expect(again.body).toEqual(updated);
    });

    it("regenerates the direct hash with no body and no content type", async () => {
      const res = await anon.call<Extension>(
        "POST",
        `/v1.0/extensions/${created.id}/direct-hash-regenerate?${carrier()}`,
      );
      expect(res.status).toBe(200);
      expectExtensionShape(res.body);
      expect(res.body.direct_hash).not.toBe(updated.direct_hash);
      expect(res.body).toMatchObject({
        id: created.id,
        name: SEED_UPDATE.name,
        detail: SEED_UPDATE.detail,
        password: SEED_UPDATE.password,
        extension: "test12",
        tm_create: created.tm_create,
        tm_delete: "",
      });
      expect(res.body.tm_update >= updated.tm_update).toBe(true);
      const again = await anon.get<Extension>(`/v1.0/extensions/${created.id}?${carrier()}`);
      expect(again.body.direct_hash).toBe(res.body.direct_hash);
      updated = res.body;
    });

    it("deletes the extension with 200 and returns it with tm_delete set", async () => {
      const res = await anon.del<Extension>(`/v1.0/extensions/${created.id}?${carrier()}`);
      expect(res.status).toBe(200);
      expectExtensionShape(res.body);
      expect(res.body.id).toBe(created.id);
      expect(res.body.extension).toBe("test12");
      expect(res.body.tm_delete).toMatch(TIMESTAMP);
      expect(res.body.tm_delete >= updated.tm_update).toBe(true);
      const list = await anon.get<Page<Extension>>(`/v1.0/extensions?${carrier()}&domain_id=${domainId}`);
      expect(list.body).toEqual({ result: [], next_page_token: "" });
    });
  });

  it("never stores or logs a password or token in clear", async () => {
    await h.assertNoPlaintextSecrets();
  });
});
