import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";

describe.each(DATABASES)("extension round trip on %s", (kind) => {
  let h: Harness;
  let api: Client;
  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  it("creates, reads, lists and deletes an extension", async () => {
    const pw = h.secret("Secret-pass-123");
    const created = await api.post("/v1.0/extensions", { name: "n", extension: "100", password: pw });
    expect(created.status).toBe(200);
    expect(Object.keys(created.body)).toEqual([
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
    const id = created.body.id as string;
    expect((await api.get(`/v1.0/extensions/${id}`)).body.password).toBe(pw);
    const list = await api.get<{ result: unknown[]; next_page_token: string }>("/v1.0/extensions");
    expect(list.body.result).toHaveLength(1);
    expect((await api.del(`/v1.0/extensions/${id}`)).status).toBe(200);
    expect((await api.del(`/v1.0/extensions/${id}`)).status).toBe(404);
    await h.assertNoPlaintextSecrets();
  });
});
