// Several nodes, one deployment (CONTRACT §15): two sipext servers on one PostgreSQL schema
// (their own ports, the shared keys), each answering phones from its own memory. What one node
// knows the other learns within a second: bindings (listed, called, force-unregistered), a
// deleted extension, a ban, a used nonce-count. A call reaching node A for a phone whose TCP
// connection node B holds goes through B.
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../src/contract/contact.js";
import { digestHa1 } from "../../src/domain/secrets.js";
import { formatMicros } from "../../src/util/time.js";
import {
  type Client,
  client,
  cutBusListeners,
  DATABASES,
  type Harness,
  newSchemaUrl,
  PG_URL,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { TcpPeer, token, until } from "../sip/raw-sip.js";
import { answerTo, firstLine, headerValue, headerValues, RawPhone, udpChannel } from "./raw-phone.js";

interface Ext {
  id: string;
  ext: string;
  password: string;
  hash: string;
}

const SHARED = {
  SIPEXT_JWT_SECRET: randomBytes(32).toString("hex"),
  SIPEXT_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
};
const isInvite = (m: string) => m.startsWith("INVITE ");

describe.runIf(DATABASES.includes("postgres"))("two nodes on one PostgreSQL", () => {
  let a: Harness;
  let b: Harness;
  let apiA: Client;
  let apiB: Client;
  let databaseUrl: string;
  const phones: RawPhone[] = [];

  beforeAll(async () => {
    databaseUrl = newSchemaUrl();
    a = await startHarness("postgres", { databaseUrl, env: SHARED });
    b = await startHarness("postgres", { databaseUrl, env: SHARED });
    apiA = client(a.url, a.admin.token);
    apiB = client(b.url, a.admin.token); // one deployment: node A's token works on node B
  });
  afterAll(async () => {
    for (const p of phones) await p.close();
    await b?.close();
    await stopHarness(a);
  });

  async function extension(): Promise<Ext> {
    const ext = `n${randomBytes(3).toString("hex")}`;
    const password = a.secret(`Pw-${randomBytes(6).toString("hex")}`);
    const res = await apiA.post("/v1.0/extensions", { extension: ext, password });
    expect(res.status).toBe(200);
    return { id: res.body.id as string, ext, password, hash: res.body.direct_hash as string };
  }

  /** A UDP phone of `e` registered at `node`. */
  async function registeredAt(node: Harness, e: Ext, local = "127.0.0.1"): Promise<RawPhone> {
    const o = { sipPort: node.server.sip.port, domain: a.admin.domainName, ext: e.ext, password: e.password };
    const p = await RawPhone.open(o, await udpChannel(node.server.sip.port, local));
    phones.push(p);
    expect(firstLine(await p.registerWithDigest())).toBe("SIP/2.0 200 OK");
    return p;
  }

  /** An INVITE from `caller` to the direct address of `e` (extra header lines before the body); its Call-ID. */
  function inviteDirect(caller: RawPhone, e: Ext, tag = "1", extra: string[] = []): string {
    const uri = `sip:direct.${e.hash}@${a.config.directDomain}`;
    const callId = `${token()}@nodes`;
    caller.send(
      [
        `INVITE ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-${token()};rport`,
        "Max-Forwards: 70",
        `From: <sip:c@example.net>;tag=${tag}`,
        `To: <${uri}>`,
        `Call-ID: ${callId}`,
        "CSeq: 1 INVITE",
        ...extra,
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n"),
    );
    return callId;
  }

  const contactsAt = async (api: Client, e: Ext) =>
    (await api.get<{ result: Contact[] }>(`/v1.0/extensions/${e.id}/contacts`)).body.result;

  it("lists at node A within a second a phone registered at node B, and a call through A reaches it", async () => {
    const e = await extension();
    const phone = await registeredAt(b, e);
    const started = Date.now();
    let contacts: Contact[] = [];
    while (contacts.length === 0 && Date.now() - started < 1_000) {
      contacts = await contactsAt(apiA, e);
      if (contacts.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(contacts.map((c) => c.uri)).toEqual([phone.contact]);
    // A call to the direct URI through node A.
    const caller = await RawPhone.open({
      sipPort: a.server.sip.port,
      domain: "x",
      ext: "caller",
      password: "x",
    });
    phones.push(caller);
    inviteDirect(caller, e);
    const invite = await phone.next(isInvite).catch((err) => {
      throw new Error(`${err}\ncaller got:\n${caller.got.join("\n--\n")}`);
    });
    // A phone answers where the request's top Via says: node A's port.
    phone.send(answerTo(invite, "486 Busy Here"), a.server.sip.port);
    expect(firstLine(await caller.next((m) => m.startsWith("SIP/2.0 486 ")))).toBe("SIP/2.0 486 Busy Here");
  });

  it("a call at node A for a phone on a TCP connection to node B goes through B, and the BYE comes back that way", async () => {
    const e = await extension();
    // The phone: one TCP connection to node B, registering with digest.
    const tcp = await TcpPeer.open(b.server.sip.port);
    const domain = a.admin.domainName;
    const contact = `sip:${e.ext}@127.0.0.1:${tcp.localPort};transport=tcp`;
    const register = (cseq: number, auth?: string) =>
      [
        `REGISTER sip:${domain} SIP/2.0`,
        `Via: SIP/2.0/TCP 127.0.0.1:${tcp.localPort};branch=z9hG4bK-${token()};rport`,
        "Max-Forwards: 70",
        `From: <sip:${e.ext}@${domain}>;tag=t`,
        `To: <sip:${e.ext}@${domain}>`,
        "Call-ID: tcp-node@x",
        `CSeq: ${cseq} REGISTER`,
        `Contact: <${contact}>`,
        "Expires: 600",
        ...(auth ? [auth] : []),
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n");
    const helper = await RawPhone.open({
      sipPort: b.server.sip.port,
      domain,
      ext: e.ext,
      password: e.password,
    });
    phones.push(helper);
    await tcp.write(register(1));
    await until("the 401", () => tcp.responses.length >= 1);
    const challenge = tcp.responses[0]?.raw ?? "";
    await tcp.write(register(2, helper.authorization(challenge)));
    await until("the 200", () => tcp.responses.some((r) => r.status === 200));
    const deadline = Date.now() + 1_000;
    while ((await contactsAt(apiA, e)).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    // The call at node A.
    const caller = await RawPhone.open({
      sipPort: a.server.sip.port,
      domain: "x",
      ext: "caller",
      password: "x",
    });
    phones.push(caller);
    inviteDirect(caller, e, "2", [`Contact: <sip:c@127.0.0.1:${caller.port}>`]);
    // It arrives over the phone's own TCP connection (only node B holds it).
    await until("the INVITE on the TCP connection", () => tcp.raw.toString("latin1").includes("INVITE sip:"));
    const text = tcp.raw.toString("latin1");
    const invite = text.slice(text.indexOf("INVITE sip:"));
    const rr = headerValues(invite, "Record-Route");
    expect(rr.length).toBeGreaterThanOrEqual(2); // B's entries and A's
    expect(rr.join(",")).toContain(`:${b.server.sip.port};`);
    expect(rr.join(",")).toContain(`:${a.server.sip.port};`);
    await tcp.write(
      answerTo(invite.slice(0, invite.indexOf("\r\n\r\n") + 4), "200 OK", "tcp", [`Contact: <${contact}>`]),
    );
    const ok = await caller.next((m) => m.startsWith("SIP/2.0 200 "));
    // The caller hangs up along the route set: A, then B, then the TCP connection.
    const routes = headerValues(ok, "Record-Route").reverse();
    caller.send(
      [
        `BYE ${contact} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-${token()};rport`,
        ...routes.map((r) => `Route: ${r}`),
        "Max-Forwards: 70",
        "From: <sip:c@example.net>;tag=2",
        `To: ${headerValue(ok, "To")}`,
        `Call-ID: ${headerValue(ok, "Call-ID")}`,
        "CSeq: 2 BYE",
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n"),
    );
    await until("the BYE on the TCP connection", () => tcp.raw.toString("latin1").includes("BYE sip:"));
    tcp.close();
  });

  it("force-unregister at node A ends node B's binding within a second; deleting the extension at A too", async () => {
    const e = await extension();
    await registeredAt(b, e);
    expect(await contactsAt(apiB, e)).toHaveLength(1);
    const deadline = Date.now() + 1_000;
    while ((await contactsAt(apiA, e)).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect((await apiA.del(`/v1.0/extensions/${e.id}/contacts`)).status).toBe(200);
    const t0 = Date.now();
    while ((await contactsAt(apiB, e)).length > 0 && Date.now() - t0 < 1_000)
      await new Promise((r) => setTimeout(r, 20));
    expect(await contactsAt(apiB, e)).toEqual([]);
    // Registered again at B, then the extension deleted at A: gone from B as well.
    await registeredAt(b, e);
    expect((await apiA.del(`/v1.0/extensions/${e.id}`)).status).toBe(200);
    const t1 = Date.now();
    while ((await contactsAt(apiB, e)).length > 0 && Date.now() - t1 < 1_000)
      await new Promise((r) => setTimeout(r, 20));
    expect(await contactsAt(apiB, e)).toEqual([]);
  });

  it("after PostgreSQL cuts every node's listening connection (as a restart does), the nodes listen again: a phone registered meanwhile is listed at the other, and changes travel again", async () => {
    const e = await extension();
    expect(await cutBusListeners(databaseUrl)).toBeGreaterThanOrEqual(2);
    const phone = await registeredAt(b, e);
    const listed = await within(3_000, async () => (await contactsAt(apiA, e)).length === 1);
    expect(listed).toBeLessThan(3_000);
    expect((await contactsAt(apiA, e)).map((c) => c.uri)).toEqual([phone.contact]);
    expect((await apiA.del(`/v1.0/extensions/${e.id}/contacts`)).status).toBe(200);
    expect(await within(1_000, async () => (await contactsAt(apiB, e)).length === 0)).toBeLessThan(1_000);
  });

  it("a ban a node did not hear of (its listening connection cut) is read from the database once it listens again", async () => {
    const e = await extension();
    const source = "127.0.0.9";
    const atB = async () => {
      const p = await RawPhone.open(
        { sipPort: b.server.sip.port, domain: a.admin.domainName, ext: e.ext, password: e.password },
        await udpChannel(b.server.sip.port, source),
      );
      phones.push(p);
      void p.register().catch(() => {});
      return (await p.quiet(400)).length === 0;
    };
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const schema = new URL(databaseUrl).searchParams.get("schema");
    const now = Date.now() * 1000;
    // Written as another node writes a ban, without its message on the bus.
    await admin.query(
      `INSERT INTO "${schema}".sip_bans (id, source, customer_id, extension_id, failures, tm_create, tm_expire) VALUES ($1, $2, $3, $4, 10, $5, $6)`,
      [randomUUID(), source, a.admin.customerId, e.id, formatMicros(now), formatMicros(now + 600e6)],
    );
    expect(await atB()).toBe(false);
    await admin.end();
    await cutBusListeners(databaseUrl);
    // B listens again after 250 ms and reads the bans; each look waits 400 ms for an answer.
    let dropped = false;
    for (const end = Date.now() + 5_000; !dropped && Date.now() < end; ) dropped = await atB();
    expect(dropped).toBe(true);
  });

  /** Registers `e` with `password` at `node` from its own loopback address: the final status line. */
  async function registerAt(node: Harness, e: Ext, password: string, local: string): Promise<string> {
    const o = { sipPort: node.server.sip.port, domain: a.admin.domainName, ext: e.ext, password };
    const p = await RawPhone.open(o, await udpChannel(node.server.sip.port, local));
    phones.push(p);
    return firstLine(await p.registerWithDigest());
  }

  /** Polls `check` every 20 ms until it is true or `ms` passed; the time it took. */
  async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
    const t0 = Date.now();
    while (!(await check()) && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
    return Date.now() - t0;
  }

  // Node B caches extensions (credentials, direct hashes); every writer's commit drops them there
  // (migration 009's trigger on the deployment bus), the `sipext` command's or a DBA's included.
  it("a password set at node A, or written straight into the database, is the only one node B takes within a second; a regenerated hash too", async () => {
    const e = await extension();
    expect(await registerAt(b, e, e.password, "127.0.0.21")).toBe("SIP/2.0 200 OK");
    const second = a.secret(`Pw-${randomBytes(6).toString("hex")}`);
    expect((await apiA.put(`/v1.0/extensions/${e.id}`, { password: second })).status).toBe(200);
    let status = "";
    const took = await within(1_000, async () => {
      status = await registerAt(b, e, e.password, "127.0.0.22");
      return status !== "SIP/2.0 200 OK";
    });
    expect(status, `old password still taken at B after ${took} ms`).toMatch(/^SIP\/2\.0 40[13] /);
    expect(await registerAt(b, e, second, "127.0.0.21")).toBe("SIP/2.0 200 OK");

    // Another writer (the CLI, a DBA): the stored digest changed under the nodes.
    const third = a.secret(`Pw-${randomBytes(6).toString("hex")}`);
    const ha1 = digestHa1(e.ext, a.admin.domainName, third);
    const db = new pg.Client({ connectionString: databaseUrl.replace(/\?.*$/, "") });
    await db.connect();
    const schema = new URL(databaseUrl).searchParams.get("schema");
    await db
      .query(`UPDATE "${schema}".extensions SET ha1_md5 = $1, ha1_sha256 = $2 WHERE id = $3`, [
        ha1.md5,
        ha1.sha256,
        e.id,
      ])
      .finally(() => db.end());
    await within(1_000, async () => (await registerAt(b, e, third, "127.0.0.23")) === "SIP/2.0 200 OK");
    expect(await registerAt(b, e, third, "127.0.0.23")).toBe("SIP/2.0 200 OK");

    // The direct hash: B routes the old one (cached), A regenerates, B refuses it within a second.
    // One binding only (the registrations above left several, and a call forks to them all).
    expect((await apiB.del(`/v1.0/extensions/${e.id}/contacts`)).status).toBe(200);
    const phone = await registeredAt(b, { ...e, password: third }, "127.0.0.24");
    const caller = await RawPhone.open({ sipPort: b.server.sip.port, domain: "x", ext: "c", password: "x" });
    phones.push(caller);
    const inviteOld = () => inviteDirect(caller, e);
    const first = inviteOld();
    const invite = await phone.next((m) => isInvite(m) && headerValue(m, "Call-ID") === first);
    phone.send(answerTo(invite, "486 Busy Here"), b.server.sip.port);
    await caller.next((m) => m.startsWith("SIP/2.0 486 "));
    expect((await apiA.post(`/v1.0/extensions/${e.id}/direct-hash-regenerate`, {})).status).toBe(200);
    let final = "";
    await within(1_000, async () => {
      const callId = inviteOld();
      const ofCall = (m: string) => headerValue(m, "Call-ID") === callId;
      const finalOf = () => caller.got.find((m) => /^SIP\/2\.0 [3-6]/.test(m) && ofCall(m));
      // Still routed (the old hash cached): the phone gets the INVITE and answers busy.
      await until("a final answer or the INVITE at the phone", () =>
        Boolean(finalOf() ?? phone.got.find((m) => isInvite(m) && ofCall(m))),
      );
      const routed = phone.got.find((m) => isInvite(m) && ofCall(m));
      if (routed) phone.send(answerTo(routed, "486 Busy Here"), b.server.sip.port);
      await until("a final answer", () => finalOf() !== undefined);
      final = firstLine(finalOf() ?? "");
      return final.startsWith("SIP/2.0 404");
    });
    expect(final).toBe("SIP/2.0 404 Not Found");
  });

  it("a nonce-count used at node A is refused when replayed at node B", async () => {
    const e = await extension();
    const p = await RawPhone.open({
      sipPort: a.server.sip.port,
      domain: a.admin.domainName,
      ext: e.ext,
      password: e.password,
    });
    phones.push(p);
    const auth = p.authorization(await p.register());
    expect(firstLine(await p.register([auth]))).toBe("SIP/2.0 200 OK");
    await new Promise((r) => setTimeout(r, 300));
    // The same credentials (nonce, nc=1) in a new request to node B: a replay.
    const replay = await RawPhone.open({
      sipPort: b.server.sip.port,
      domain: a.admin.domainName,
      ext: e.ext,
      password: e.password,
    });
    phones.push(replay);
    expect(firstLine(await replay.register([auth]))).toBe("SIP/2.0 401 Unauthorized");
  });

  it("a ban made at node A drops the source at node B within a second, and lifting it at B lifts it at A", async () => {
    const e = await extension();
    const guesser = await RawPhone.open(
      { sipPort: a.server.sip.port, domain: a.admin.domainName, ext: e.ext, password: "wrong-wrong" },
      await udpChannel(a.server.sip.port, "127.0.0.7"),
    );
    phones.push(guesser);
    for (let i = 0; i < 10; i++) await guesser.registerWithDigest();
    await new Promise((r) => setTimeout(r, 500));
    const atB = await RawPhone.open(
      { sipPort: b.server.sip.port, domain: a.admin.domainName, ext: e.ext, password: e.password },
      await udpChannel(b.server.sip.port, "127.0.0.7"),
    );
    phones.push(atB);
    void atB.register().catch(() => {});
    expect(await atB.quiet(600)).toEqual([]);
    const bans = (await apiB.get<{ result: Array<{ id: string; source: string }> }>("/v1.0/sip-bans")).body
      .result;
    const ban = bans.find((x) => x.source === "127.0.0.7");
    expect(ban).toBeDefined();
    expect((await apiB.del(`/v1.0/sip-bans/${ban?.id}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(firstLine(await guesser.register())).toBe("SIP/2.0 401 Unauthorized");
  });

  it("wrong digest answers spread over node A and node B add up to a ban", async () => {
    const e = await extension();
    const at = async (node: Harness) => {
      const p = await RawPhone.open(
        { sipPort: node.server.sip.port, domain: a.admin.domainName, ext: e.ext, password: "wrong-wrong" },
        await udpChannel(node.server.sip.port, "127.0.0.8"),
      );
      phones.push(p);
      return p;
    };
    const [guessA, guessB] = [await at(a), await at(b)];
    // Four at each node (the limit is ten), answered: neither node alone nor both together saw
    // enough. (A wrong answer the phone retransmits on a slow machine counts again: margin.)
    for (let i = 0; i < 4; i++) {
      expect(firstLine(await guessA.registerWithDigest())).toBe("SIP/2.0 401 Unauthorized");
      expect(firstLine(await guessB.registerWithDigest())).toBe("SIP/2.0 401 Unauthorized");
    }
    await new Promise((r) => setTimeout(r, 300));
    // Two more at node A — six there, under the limit — make ten in all: the source is banned
    // everywhere (the last may go unanswered, banned already).
    for (let i = 0; i < 2; i++) await guessA.registerWithDigest().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    void guessB.register().catch(() => {});
    expect(await guessB.quiet(600)).toEqual([]);
    const bans = (await apiA.get<{ result: Array<{ source: string }> }>("/v1.0/sip-bans")).body.result;
    expect(bans.filter((x) => x.source === "127.0.0.8")).toHaveLength(1);
  });

  it("failed logins at node A and node B add up: the username backs off on both", async () => {
    const username = `ghost-${randomBytes(3).toString("hex")}`;
    const login = (node: Harness) =>
      client(node.url).post("/auth/login", { username, password: "not-the-password" });
    // Ten free failures per username (CONTRACT §14), five at each node.
    for (let i = 0; i < 5; i++) {
      expect((await login(a)).status).toBe(401);
      expect((await login(b)).status).toBe(401);
    }
    await new Promise((r) => setTimeout(r, 300));
    // Each node now knows ten: the next attempt waits (429), or — when the 1 s wait of the tenth
    // failure has passed on a slow machine — fails once more and starts a 2 s wait. Each node
    // alone would have allowed five more.
    for (const node of [a, b]) {
      let res = await login(node);
      if (res.status !== 429) res = await login(node);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
  });
});
