// Protection on the open internet, SIP side (CONTRACT §14), as small bounded attacks from other
// loopback addresses (127.0.0.2, 127.0.0.3: every 127/8 address is this machine on Linux) while
// legitimate phones use 127.0.0.1: a digest guesser is banned and then learns nothing, the
// customer sees and lifts the ban, trusted sources are never banned, connections per source are
// capped, and an overloaded server refuses new work with 503 while it still serves what it took.
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SipBan } from "../../src/contract/sip-ban.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { sleep, token } from "../sip/raw-sip.js";
import { firstLine, headerValue, RawPhone, udpChannel } from "./raw-phone.js";

interface Ext {
  id: string;
  ext: string;
  password: string;
}

describe.each(DATABASES)("SIP protection on %s", (kind) => {
  let h: Harness;
  let api: Client;
  let otherApi: Client;
  const phones: RawPhone[] = [];

  beforeAll(async () => {
    h = await startHarness(kind, {
      env: { SIPEXT_SIP_TRUSTED_SOURCES: "127.0.0.1,127.0.0.3", SIPEXT_MAX_CONNECTIONS_PER_SOURCE: "5" },
    });
    api = client(h.url, h.admin.token);
    const username = `other-${randomBytes(4).toString("hex")}`;
    const password = h.secret(`Other-${randomBytes(6).toString("hex")}`);
    await h.server.core.services.tenants.createTenant({ name: "other", admin: { username, password } });
    const login = await client(h.url).post<{ token: string }>("/auth/login", { username, password });
    otherApi = client(h.url, h.secret(login.body.token));
  });
  afterAll(async () => {
    for (const p of phones) await p.close();
    await stopHarness(h);
  });

  async function extension(): Promise<Ext> {
    const ext = `p${randomBytes(3).toString("hex")}`;
    const password = h.secret(`Pw-${randomBytes(6).toString("hex")}`);
    const res = await api.post("/v1.0/extensions", { extension: ext, password });
    expect(res.status).toBe(200);
    return { id: res.body.id as string, ext, password };
  }

  /** A phone of `e` on UDP from `local`, with `password` (the right one by default). */
  async function phone(e: Ext, local = "127.0.0.1", password = e.password): Promise<RawPhone> {
    const o = { sipPort: h.server.sip.port, domain: h.admin.domainName, ext: e.ext, password };
    const p = await RawPhone.open(o, await udpChannel(h.server.sip.port, local));
    phones.push(p);
    return p;
  }

  const bans = async (c: Client = api) => (await c.get<{ result: SipBan[] }>("/v1.0/sip-bans")).body.result;

  it("bans a digest guesser after 10 wrong answers, keeps the real phone working, and lifts the ban on DELETE", async () => {
    const e = await extension();
    const real = await phone(e);
    const guesser = await phone(e, "127.0.0.2", "wrong-password");
    for (let i = 1; i <= 10; i++) {
      expect(firstLine(await guesser.registerWithDigest()), `guess ${i}`).toBe("SIP/2.0 401 Unauthorized");
    }
    // Banned: the next request, even with the right password, is dropped unanswered.
    const right = await phone(e, "127.0.0.2");
    const seen = right.got.length;
    void right.register().catch(() => {});
    expect(await right.quiet(800)).toHaveLength(0);
    expect(right.got).toHaveLength(seen);
    // A TCP connection from it is closed at once.
    const closed = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port: h.server.sip.port, localAddress: "127.0.0.2" });
      s.on("close", () => resolve(true));
      s.on("error", () => {});
      setTimeout(() => resolve(false), 2_000);
    });
    expect(closed).toBe(true);
    // The real phone elsewhere registers as ever.
    expect(firstLine(await real.registerWithDigest())).toBe("SIP/2.0 200 OK");
    // The customer sees the ban, another customer does not.
    const listed = await bans();
    const ban = listed.find((b) => b.source === "127.0.0.2");
    expect(ban).toMatchObject({ source: "127.0.0.2", extension_id: e.id, failures: 10 });
    expect((await bans(otherApi)).find((b) => b.source === "127.0.0.2")).toBeUndefined();
    expect((await otherApi.del(`/v1.0/sip-bans/${ban?.id}`)).status).toBe(404);
    // Lifted: the source is heard again at once.
    const lifted = await api.del<SipBan>(`/v1.0/sip-bans/${ban?.id}`);
    expect(lifted.status).toBe(200);
    expect(lifted.body.source).toBe("127.0.0.2");
    expect(firstLine(await right.registerWithDigest())).toBe("SIP/2.0 200 OK");
    expect((await bans()).find((b) => b.source === "127.0.0.2")).toBeUndefined();
  });

  it("never bans a trusted source (SIPEXT_SIP_TRUSTED_SOURCES)", async () => {
    const e = await extension();
    const office = await phone(e, "127.0.0.3", "wrong-password");
    for (let i = 1; i <= 12; i++)
      expect(firstLine(await office.registerWithDigest())).toBe("SIP/2.0 401 Unauthorized");
    expect((await bans()).find((b) => b.source === "127.0.0.3")).toBeUndefined();
  });

  it("counts only failed answers: a phone's unauthenticated first REGISTERs never ban it", async () => {
    const e = await extension();
    const p = await phone(e, "127.0.0.4");
    for (let i = 1; i <= 12; i++) expect(firstLine(await p.register())).toBe("SIP/2.0 401 Unauthorized");
    expect(firstLine(await p.registerWithDigest())).toBe("SIP/2.0 200 OK");
  });

  it("caps SIP connections per source address (SIPEXT_MAX_CONNECTIONS_PER_SOURCE=5)", async () => {
    const open = (local: string) =>
      new Promise<{ closedAtOnce: boolean; close(): void }>((resolve) => {
        const s = connect({ host: "127.0.0.1", port: h.server.sip.port, localAddress: local });
        let closed = false;
        s.on("close", () => {
          closed = true;
        });
        s.on("error", () => {});
        s.on("connect", () =>
          setTimeout(() => resolve({ closedAtOnce: closed, close: () => s.destroy() }), 150),
        );
      });
    const five = await Promise.all([1, 2, 3, 4, 5].map(() => open("127.0.0.5")));
    expect(five.map((c) => c.closedAtOnce)).toEqual([false, false, false, false, false]);
    const sixth = await open("127.0.0.5");
    expect(sixth.closedAtOnce).toBe(true);
    // Another source still connects.
    const other = await open("127.0.0.6");
    expect(other.closedAtOnce).toBe(false);
    for (const c of [...five, other]) c.close();
    expect(h.server.sip.stats.refused).toBeGreaterThanOrEqual(1);
  });
});

describe("SIP overload (CONTRACT §14)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness("sqlite", { env: { SIPEXT_SIP_OVERLOAD_LAG_MS: "40" } });
  });
  afterAll(async () => stopHarness(h));

  it("refuses new requests outside a dialog with 503 and Retry-After while the loop lags, and still serves retransmissions and in-dialog requests", async () => {
    const password = h.secret(`Pw-${token()}`);
    const p = { kind: "user", id: "t", customerId: h.admin.customerId, role: "admin" } as const;
    await h.server.core.services.extensions.create(p, { extension: "900", password });
    const phone = await RawPhone.open({
      sipPort: h.server.sip.port,
      domain: h.admin.domainName,
      ext: "900",
      password,
    });
    const ok = await phone.registerWithDigest();
    expect(firstLine(ok)).toBe("SIP/2.0 200 OK");
    const registered = phone.lastSent;
    // Make the server's event loop (this process's) late: 150 ms of work every 170 ms.
    const busy = setInterval(() => {
      const until = Date.now() + 150;
      while (Date.now() < until) {}
    }, 100);
    try {
      await sleep(1_200);
      // A new REGISTER: refused statelessly.
      const refused = await phone.register();
      expect(h.server.sip.stats.overloaded).toBeGreaterThanOrEqual(1);
      expect(firstLine(refused)).toBe("SIP/2.0 503 Service Unavailable (overloaded)");
      expect(Number(headerValue(refused, "Retry-After"))).toBeGreaterThanOrEqual(1);
      // The retransmission of the REGISTER that was answered 200: its 200 again.
      const from = phone.got.length;
      phone.send(registered);
      const again = await phone.next((m) => m.startsWith("SIP/2.0 "), 3_000, from);
      expect(again).toBe(ok);
      // A request inside a dialog (To tag): served.
      const at = phone.got.length;
      phone.send(
        [
          `OPTIONS sip:${h.admin.domainName} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bK-${token()};rport`,
          "Max-Forwards: 70",
          "From: <sip:900@x>;tag=a",
          `To: <sip:${h.admin.domainName}>;tag=b`,
          `Call-ID: ${token()}`,
          "CSeq: 2 OPTIONS",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n"),
      );
      expect(firstLine(await phone.next((m) => m.startsWith("SIP/2.0 "), 3_000, at))).toBe("SIP/2.0 200 OK");
    } finally {
      clearInterval(busy);
      await phone.close();
    }
    // Back to normal: served again.
    await sleep(1_500);
    const p2 = await RawPhone.open({
      sipPort: h.server.sip.port,
      domain: h.admin.domainName,
      ext: "900",
      password,
    });
    expect(firstLine(await p2.registerWithDigest())).toBe("SIP/2.0 200 OK");
    await p2.close();
  });
});
