// Provisioning links (CONTRACT §17) over real HTTP on both databases: issuing (QR SVG, expiry
// bounds naming `expire`), the public fetch in Linphone's XML (parsed strictly: its sections and
// keys), JSON and baresip, any number of fetches, the `extension_provisioning_used` event with the
// source address, revoked, expired and unknown tokens all one 404, the token kept out of the logs
// and the database, and with SIPEXT_SHOW_PASSWORDS=false the HA1 and realm instead of a password.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/util/time.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { parseLpConfig } from "../helpers/lpconfig.js";

interface Issued {
  id: string;
  url: string;
  token: string;
  qr_svg: string;
  tm_expire: string;
}

const withoutRequestId = (body: unknown) => {
  const e = (body as { error: Record<string, unknown> }).error;
  return { ...e, request_id: undefined };
};

describe.each(DATABASES)("provisioning links on %s", (kind) => {
  let h: Harness;
  let api: Client;
  let offsetUs = 0;
  const base = systemClock();
  let ext: { id: string; extension: string; password: string };

  beforeAll(async () => {
    h = await startHarness(kind, { clock: () => base() + offsetUs });
    api = client(h.url, h.admin.token);
    const password = h.secret(`Pw-${randomBytes(6).toString("hex")}`);
    const created = await api.post<{ id: string }>("/v1.0/extensions", { extension: "p100", password });
    expect(created.status).toBe(200);
    ext = { id: created.body.id, extension: "p100", password };
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  const issue = async (body?: unknown) => {
    const res = await api.post<Issued>(`/v1.0/extensions/${ext.id}/provisioning`, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    h.secret(res.body.token);
    return res.body;
  };
  const fetchLink = (url: string, format?: string) =>
    fetch(format ? `${url}&format=${format}` : url).then(async (r) => ({
      status: r.status,
      type: r.headers.get("content-type") ?? "",
      cache: r.headers.get("cache-control"),
      text: await r.text(),
    }));

  it("issues a link with its URL, token, QR code (SVG) and a 10-minute expiry", async () => {
    const before = Date.now();
    const link = await issue();
    expect(link.token).toMatch(/^sxp_[A-Za-z0-9_-]{43}$/);
    expect(link.url).toBe(`${h.url}/provisioning/extension?token=${link.token}`);
    expect(link.qr_svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*viewBox="0 0 \d+ \d+"/);
    expect(link.qr_svg).toMatch(/<path [^>]*d="M[^"]{100,}"/);
    const expires = Date.parse(`${link.tm_expire.replace(" ", "T")}Z`);
    expect(expires - before).toBeGreaterThanOrEqual(600_000 - 2_000);
    expect(expires - before).toBeLessThanOrEqual(600_000 + 2_000);
    const custom = await issue({ expire: 3600 });
    expect(Date.parse(`${custom.tm_expire.replace(" ", "T")}Z`) - before).toBeGreaterThan(3_590_000);
  });

  it.each([[59], [86_401], [0], ["600"], [1.5]])(
    "refuses expire=%j with a 400 naming expire",
    async (expire) => {
      const res = await api.post<{ error: { status: string; message: string } }>(
        `/v1.0/extensions/${ext.id}/provisioning`,
        { expire },
      );
      expect(res.status).toBe(400);
      expect(res.body.error.status).toBe("INVALID_ARGUMENT");
      expect(res.body.error.message).toMatch(/expire/);
    },
  );

  it("answers Linphone's remote-provisioning XML with proxy_0 and auth_info_0, any number of times", async () => {
    const link = await issue();
    for (let i = 0; i < 3; i++) {
      const r = await fetchLink(link.url);
      expect(r.status).toBe(200);
      expect(r.type).toMatch(/^application\/xml/);
      expect(r.cache).toBe("no-store");
      const config = parseLpConfig(r.text);
      expect([...config.keys()]).toEqual(["proxy_0", "auth_info_0"]);
      const domain = h.admin.domainName;
      const sip = `sip:127.0.0.1:${h.server.sip.port};transport=udp`;
      expect(Object.fromEntries(config.get("proxy_0") ?? [])).toEqual({
        reg_proxy: `<${sip}>`,
        reg_route: `<${sip};lr>`,
        reg_identity: `<sip:p100@${domain}>`,
        reg_expires: "600",
        reg_sendregister: "1",
        realm: domain,
      });
      expect(Object.fromEntries(config.get("auth_info_0") ?? [])).toEqual({
        username: "p100",
        userid: "p100",
        passwd: ext.password,
        realm: domain,
        domain,
      });
    }
  });

  it("answers the same settings as JSON, and a baresip accounts line", async () => {
    const link = await issue();
    const json = await fetchLink(link.url, "json");
    expect(json.status).toBe(200);
    const s = JSON.parse(json.text) as Record<string, unknown>;
    const outbound = `sip:127.0.0.1:${h.server.sip.port};transport=udp`;
    expect(s).toEqual({
      extension: "p100",
      username: "p100",
      domain: h.admin.domainName,
      realm: h.admin.domainName,
      identity: `sip:p100@${h.admin.domainName}`,
      password: ext.password,
      ha1: "",
      password_recoverable: true,
      outbound_proxy: outbound,
      transport: "udp",
      reg_expires: 600,
      tm_expire: link.tm_expire,
    });
    const line = await fetchLink(link.url, "baresip");
    expect(line.status).toBe(200);
    expect(line.type).toMatch(/^text\/plain/);
    expect(line.text).toBe(
      `<sip:p100@${h.admin.domainName}>;auth_pass=${ext.password};outbound="${outbound}";regint=600\n`,
    );
    const bad = await fetchLink(link.url, "yealink");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.message).toMatch(/^format: /);
  });

  it("records each fetch as extension_provisioning_used with the source address", async () => {
    const link = await issue();
    const before = await api.get<{ result: unknown[] }>("/v1.0/events?type=extension_provisioning_used");
    expect((await fetchLink(link.url, "json")).status).toBe(200);
    const after = await api.get<{ result: Array<{ data: Record<string, unknown> }> }>(
      "/v1.0/events?type=extension_provisioning_used",
    );
    expect(after.body.result.length).toBe(before.body.result.length + 1);
    const data = after.body.result.at(-1)?.data ?? {};
    expect(data).toMatchObject({
      id: ext.id,
      extension: "p100",
      provisioning_id: link.id,
      source: "127.0.0.1",
    });
    expect(data.password).toBe("");
  });

  it("answers one and the same 404 for a revoked, an expired and an unknown token", async () => {
    const revoked = await issue();
    const del = await api.del<{ id: string; tm_delete: string }>(
      `/v1.0/extensions/${ext.id}/provisioning/${revoked.id}`,
    );
    expect(del.status).toBe(200);
    expect(del.body.tm_delete).not.toBe("");
    expect((await api.del(`/v1.0/extensions/${ext.id}/provisioning/${revoked.id}`)).status).toBe(404);

    const expiring = await issue({ expire: 60 });
    expect((await fetchLink(expiring.url)).status).toBe(200);
    offsetUs += 61_000_000;

    const unknown = `${h.url}/provisioning/extension?token=sxp_${randomBytes(32).toString("base64url")}`;
    const answers = await Promise.all(
      [revoked.url, expiring.url, unknown, `${h.url}/provisioning/extension`].map((u) => fetchLink(u)),
    );
    for (const a of answers) expect(a.status).toBe(404);
    const bodies = answers.map((a) => withoutRequestId(JSON.parse(a.text)));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0]).toMatchObject({ status: "NOT_FOUND", reason: "PROVISIONING_LINK_NOT_FOUND" });
  });

  it("keeps another tenant's manager from revoking, and tokens out of the logs and the database", async () => {
    const link = await issue();
    expect((await fetchLink(link.url)).status).toBe(200);
    const other = await client(h.url).del(`/v1.0/extensions/${ext.id}/provisioning/${link.id}`);
    expect(other.status).toBe(401);
    const logs = h.logs();
    expect(logs).toMatch(/\/provisioning\/extension\?token=\[redacted\]/);
    expect(logs).not.toContain(link.token);
    expect(logs).not.toContain(link.token.slice(4));
    await h.assertNoPlaintextSecrets();
  });
});

describe.each(DATABASES)("provisioning links without stored passwords on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind, { env: { SIPEXT_SHOW_PASSWORDS: "false" } });
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  it("carries the MD5 HA1 and the realm, says so in JSON, and has no baresip line", async () => {
    const api = client(h.url, h.admin.token);
    const password = h.secret(`Pw-${randomBytes(6).toString("hex")}`);
    const created = await api.post<{ id: string }>("/v1.0/extensions", { extension: "p200", password });
    const link = await api.post<Issued>(`/v1.0/extensions/${created.body.id}/provisioning`);
    h.secret(link.body.token);
    const realm = h.admin.domainName;
    const ha1 = createHash("md5").update(`p200:${realm}:${password}`).digest("hex");
    const json = (await (await fetch(`${link.body.url}&format=json`)).json()) as Record<string, unknown>;
    expect(json).toMatchObject({ password: "", ha1, realm, password_recoverable: false });
    const auth = parseLpConfig(await (await fetch(link.body.url)).text()).get("auth_info_0");
    expect(Object.fromEntries(auth ?? [])).toEqual({
      username: "p200",
      userid: "p200",
      ha1,
      algorithm: "MD5",
      realm,
      domain: realm,
    });
    const baresip = await fetch(`${link.body.url}&format=baresip`);
    expect(baresip.status).toBe(400);
    expect(((await baresip.json()) as { error: { message: string } }).error.message).toMatch(
      /^format: .*HA1/,
    );
    await h.assertNoPlaintextSecrets();
  });
});
