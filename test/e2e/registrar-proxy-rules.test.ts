// The registrar and proxy rules of CONTRACT §7 and §9 on the wire, with bare UDP phones where a
// real client cannot be made to show them: the outbound proxy's Route, q (stored, echoed, the
// contacts' order, serial forking), 6xx, Path, reg-id/outbound, 420, the lower CSeq, stateless
// rejections (one datagram back per datagram in) and STUN keep-alives.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../src/contract/contact.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { token } from "../sip/raw-sip.js";
import {
  answerTo,
  firstLine,
  headerValue,
  headerValues,
  RawPhone,
  type RawPhoneOptions,
} from "./raw-phone.js";

interface Ext {
  id: string;
  ext: string;
  password: string;
  hash: string;
}

const isInvite = (m: string) => m.startsWith("INVITE ");
const isCancel = (m: string) => m.startsWith("CANCEL ");
const isResponse = (status?: number) => (m: string) =>
  status === undefined ? m.startsWith("SIP/2.0 ") : m.startsWith(`SIP/2.0 ${status} `);

describe.each(DATABASES)("registrar and proxy rules on %s", (kind) => {
  let h: Harness;
  let api: Client;
  let domain: string;
  const phones: RawPhone[] = [];

  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
    domain = h.admin.domainName;
  });
  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  async function newExtension(): Promise<Ext> {
    const ext = `r${randomBytes(3).toString("hex")}`;
    const password = h.secret(`Pw-${randomBytes(6).toString("hex")}`);
    const res = await api.post("/v1.0/extensions", { extension: ext, password });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { id: res.body.id as string, ext, password, hash: res.body.direct_hash as string };
  }

  async function phone(e: Ext, o: Partial<RawPhoneOptions> = {}): Promise<RawPhone> {
    const p = await RawPhone.open({
      sipPort: h.server.sip.port,
      domain,
      ext: e.ext,
      password: e.password,
      ...o,
    });
    phones.push(p);
    return p;
  }

  async function registered(e: Ext, o: Partial<RawPhoneOptions> = {}, extra: string[] = []) {
    const p = await phone(e, o);
    const ok = await p.registerWithDigest(extra);
    expect(firstLine(ok), ok).toBe("SIP/2.0 200 OK");
    return { p, ok };
  }

  const directUri = (e: Ext) => `sip:direct.${e.hash}@${h.config.directDomain}`;

  /** An INVITE from a caller phone (no credentials needed for a direct URI). */
  function invite(
    caller: RawPhone,
    uri: string,
    extra: string[] = [],
    branch = `z9hG4bK-${token()}`,
  ): string {
    const text = [
      `INVITE ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=${branch};rport`,
      "Max-Forwards: 70",
      `From: <sip:caller@example.net>;tag=c${token(3)}`,
      `To: <${uri}>`,
      `Call-ID: ${token()}@caller`,
      "CSeq: 1 INVITE",
      `Contact: <sip:caller@127.0.0.1:${caller.port}>`,
      ...extra,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    caller.send(text);
    return text;
  }

  const contactsOf = async (e: Ext) =>
    (await api.get<{ result: Contact[] }>(`/v1.0/extensions/${e.id}/contacts`)).body.result;
  /** The stored bindings: their seconds left (`expires`) count down between two reads, `tm_expire` does not. */
  const storedContactsOf = async (e: Ext) =>
    (await contactsOf(e)).map(({ expires: _left, ...stored }) => stored);

  describe("outbound proxy Route (§16.4, CONTRACT §9)", () => {
    it("takes off a Route naming sipext's address and port, or a customer domain, and routes on the Request-URI", async () => {
      const e = await newExtension();
      const { p: callee } = await registered(e);
      const caller = await phone(e);
      for (const route of [`<sip:127.0.0.1:${h.server.sip.port};lr>`, `<sip:${domain};lr>`]) {
        const from = callee.got.length;
        invite(caller, directUri(e), [`Route: ${route}`]);
        const got = await callee.next(isInvite, 3_000, from);
        expect(headerValues(got, "Route")).toEqual([]);
        expect(got.startsWith(`INVITE ${callee.contact} SIP/2.0`)).toBe(true);
        callee.answer(got, "486 Busy Here");
        await caller.next(isResponse(486), 3_000);
        caller.got.length = 0;
      }
    });

    it("refuses a request whose top Route names somewhere else (403: not an open relay), statelessly", async () => {
      const e = await newExtension();
      const { p: callee } = await registered(e);
      const caller = await phone(e);
      invite(caller, directUri(e), ["Route: <sip:192.0.2.99:5060;lr>"]);
      const r = await caller.next(isResponse());
      expect(firstLine(r)).toBe("SIP/2.0 403 Forbidden (Route is not through this server)");
      expect(await callee.quiet(300, (m) => !isInvite(m))).toEqual([]);
      // Our address without a port means 5060: another server when sipext listens elsewhere.
      invite(caller, directUri(e), ["Route: <sip:127.0.0.1;lr>"]);
      expect(firstLine(await caller.next(isResponse(403), 3_000, 1))).toMatch(/^SIP\/2\.0 403 /);
    });
  });

  describe("q (RFC 3261 §10.2.1.2, §16.6)", () => {
    it("stores q, echoes it in the 200 and lists contacts by descending q, in the 200 and the API", async () => {
      const e = await newExtension();
      await registered(e, { contactParams: ";q=0.2" });
      await registered(e, { contactParams: ";q=0.9" });
      const { p: third, ok } = await registered(e);
      const listed = headerValues(ok, "Contact");
      expect(listed).toHaveLength(3);
      expect(listed[0]).toMatch(new RegExp(`^<${third.contact}>;expires=\\d+$`));
      expect(listed[1]).toMatch(/;q=0\.9/);
      expect(listed[2]).toMatch(/;q=0\.2/);
      expect((await contactsOf(e)).map((c) => c.uri)).toEqual(listed.map((c) => /^<([^>]+)>/.exec(c)?.[1]));
    });

    it("refuses a malformed q with 400 naming it", async () => {
      const e = await newExtension();
      const p = await phone(e, { contactParams: ";q=1.5" });
      const r = await p.registerWithDigest();
      expect(firstLine(r)).toBe("SIP/2.0 400 Bad Request (Malformed Contact q)");
    });

    it("rings the highest q first and the next lower q only when all of it failed", async () => {
      const e = await newExtension();
      const { p: high } = await registered(e, { contactParams: ";q=1.0" });
      const { p: low } = await registered(e, { contactParams: ";q=0.5" });
      const caller = await phone(e);
      invite(caller, directUri(e));
      const first = await high.next(isInvite);
      // While the q=1.0 device rings, the q=0.5 one gets nothing.
      expect((await low.quiet(400)).filter(isInvite)).toEqual([]);
      high.answer(first, "486 Busy Here", true);
      const second = await low.next(isInvite);
      low.answer(second, "200 OK", true);
      const ok = await caller.next(isResponse(200));
      expect(headerValue(ok, "CSeq")).toBe("1 INVITE");
      // The caller never heard the busy device's 486: the call went on.
      expect(caller.got.filter(isResponse(486))).toEqual([]);
    });
  });

  it("a 6xx CANCELs the other branches and is forwarded once they ended, not their 487", async () => {
    const e = await newExtension();
    const { p: a } = await registered(e);
    const { p: b } = await registered(e);
    const caller = await phone(e);
    invite(caller, directUri(e));
    const [ia, ib] = [await a.next(isInvite), await b.next(isInvite)];
    b.send(answerTo(ib, "180 Ringing", "b1"));
    await caller.next(isResponse(180));
    a.send(answerTo(ia, "603 Decline", "a1"));
    const cancel = await b.next(isCancel);
    // Until b's INVITE ends, the caller has no final.
    await b.quiet(300);
    expect(caller.got.filter((m) => /^SIP\/2\.0 [3-6]\d\d /.test(m))).toEqual([]);
    b.send(answerTo(cancel, "200 OK", "b1"));
    b.send(answerTo(ib, "487 Request Terminated", "b1"));
    const final = await caller.next((m) => /^SIP\/2\.0 [3-6]\d\d /.test(m));
    expect(firstLine(final)).toBe("SIP/2.0 603 Decline");
    expect(caller.got.filter(isResponse(487))).toEqual([]);
  });

  it("stores a Path, echoes it when the phone supports path, and sends requests to its first hop with it as Route (RFC 3327)", async () => {
    const e = await newExtension();
    const edge = createSocket("udp4");
    const atEdge: string[] = [];
    edge.on("message", (m) => atEdge.push(m.toString("latin1")));
    await new Promise<void>((r) => edge.bind(0, "127.0.0.1", () => r()));
    const path = `<sip:127.0.0.1:${edge.address().port};lr>`;
    try {
      const { p: device, ok } = await registered(e, {}, [`Path: ${path}`, "Supported: path"]);
      expect(headerValues(ok, "Path")).toEqual([path]);
      const caller = await phone(e);
      invite(caller, directUri(e));
      const start = Date.now();
      while (!atEdge.some(isInvite) && Date.now() - start < 3_000)
        await new Promise((r) => setTimeout(r, 10));
      const viaEdge = atEdge.find(isInvite) ?? "";
      expect(viaEdge.startsWith(`INVITE ${device.contact} SIP/2.0`), viaEdge).toBe(true);
      expect(headerValues(viaEdge, "Route")).toEqual([path]);
      expect(device.got.filter(isInvite)).toEqual([]);
    } finally {
      edge.close();
    }
  });

  it("does not echo Path to a phone that did not say Supported: path", async () => {
    const e = await newExtension();
    const { ok } = await registered(e, {}, ["Path: <sip:127.0.0.1:9;lr>"]);
    expect(headerValues(ok, "Path")).toEqual([]);
  });

  describe("outbound (RFC 5626)", () => {
    it("stores and echoes reg-id and +sip.instance, answers Require: outbound, and keeps one binding per reg-id", async () => {
      const e = await newExtension();
      const instance = `"<urn:uuid:${randomBytes(16).toString("hex")}>"`;
      const params = (regId: number) => `;+sip.instance=${instance};reg-id=${regId}`;
      const { ok } = await registered(e, { contactParams: params(1) }, ["Supported: outbound, path"]);
      expect(headerValue(ok, "Require")).toBe("outbound");
      expect(headerValue(ok, "Contact")).toMatch(/;\+sip\.instance="<urn:uuid:[0-9a-f]+>";reg-id=1$/);
      // A second flow of the same device (reg-id 2): both bindings stay.
      const { ok: second } = await registered(e, { contactParams: params(2) }, ["Supported: outbound"]);
      expect(headerValues(second, "Contact")).toHaveLength(2);
      // The same flow again from a new address replaces its binding.
      const { ok: third } = await registered(e, { contactParams: params(1) }, ["Supported: outbound"]);
      expect(headerValues(third, "Contact")).toHaveLength(2);
    });

    it("a registration without reg-id gets no Require: outbound", async () => {
      const e = await newExtension();
      const { ok } = await registered(e, {}, ["Supported: outbound"]);
      expect(headerValue(ok, "Require")).toBeUndefined();
    });

    it("answers a STUN Binding request on the SIP port with the address it came from (RFC 5626 §4.4.2)", async () => {
      const e = await newExtension();
      const p = await phone(e);
      const tid = randomBytes(12);
      const request = Buffer.concat([Buffer.from([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]), tid]);
      p.send(request);
      await p.next(() => p.datagrams.length > 0);
      const res = p.datagrams[0] as Buffer;
      expect(res.readUInt16BE(0)).toBe(0x0101);
      expect(res.subarray(8, 20).equals(tid)).toBe(true);
      expect(res.readUInt16BE(20)).toBe(0x0020); // XOR-MAPPED-ADDRESS
      expect(res.readUInt16BE(26) ^ 0x2112).toBe(p.port);
      expect([...res.subarray(28, 32)].map((b, i) => b ^ ([0x21, 0x12, 0xa4, 0x42][i] ?? 0)).join(".")).toBe(
        "127.0.0.1",
      );
    });
  });

  describe("420 Bad Extension (§8.2.2.3, §16.3 step 5)", () => {
    it("refuses a REGISTER requiring an unknown option, naming it in Unsupported; path and outbound are fine", async () => {
      const e = await newExtension();
      const p = await phone(e);
      const r = await p.register(["Require: foo, path"]);
      expect(firstLine(r)).toBe("SIP/2.0 420 Bad Extension");
      expect(headerValue(r, "Unsupported")).toBe("foo");
      expect(firstLine(await p.register(["Require: path, outbound"]))).toBe("SIP/2.0 401 Unauthorized");
    });

    it("refuses an OPTIONS to sipext requiring an unknown option", async () => {
      const e = await newExtension();
      const p = await phone(e);
      p.send(
        [
          `OPTIONS sip:${domain} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${p.port};branch=z9hG4bK-${token()};rport`,
          "Max-Forwards: 70",
          `From: <sip:${e.ext}@${domain}>;tag=o1`,
          `To: <sip:${domain}>`,
          `Call-ID: ${token()}@options`,
          "CSeq: 1 OPTIONS",
          "Require: 100rel",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n"),
      );
      const r = await p.next(isResponse());
      expect(firstLine(r)).toBe("SIP/2.0 420 Bad Extension");
      expect(headerValue(r, "Unsupported")).toBe("100rel");
    });

    it("refuses a call with any Proxy-Require option", async () => {
      const e = await newExtension();
      await registered(e);
      const caller = await phone(e);
      invite(caller, directUri(e), ["Proxy-Require: sec-agree"]);
      const r = await caller.next(isResponse());
      expect(firstLine(r)).toBe("SIP/2.0 420 Bad Extension");
      expect(headerValue(r, "Unsupported")).toBe("sec-agree");
    });
  });

  describe("CSeq (§10.3 step 7, CONTRACT §7)", () => {
    it("a lower CSeq on the same Call-ID fails with 400 and changes nothing; an equal one on a new transaction is 200, unchanged", async () => {
      const e = await newExtension();
      const { p } = await registered(e); // 401 with CSeq 1, 200 with CSeq 2
      const before = await storedContactsOf(e);
      expect(before.map((c) => c.cseq)).toEqual([2]);
      const lower = await p.registerWithDigest(["Expires: 0"], 1);
      expect(firstLine(lower)).toBe("SIP/2.0 400 Bad Request (CSeq lower than the binding's)");
      expect(await storedContactsOf(e)).toEqual(before);
      const equal = await p.registerWithDigest(["Expires: 0"], 2);
      expect(firstLine(equal)).toBe("SIP/2.0 200 OK");
      expect((await contactsOf(e)).map((c) => [c.uri, c.cseq])).toEqual([[p.contact, 2]]);
    });
  });

  describe("stateless rejections (CONTRACT §9)", () => {
    it("one unauthenticated INVITE gets one datagram back, never retransmitted, nothing kept; its retransmission the same answer", async () => {
      const e = await newExtension();
      await registered(e);
      const caller = await phone(e);
      const uri = `sip:${e.ext}@${domain}`;
      const branch = `z9hG4bK-${token()}`;
      // (calls of earlier tests may still be in their transactions' last states: none is added)
      const calls = h.server.sip.kept().calls;
      const text = invite(caller, uri, [], branch);
      await caller.next(isResponse(407));
      expect(h.server.sip.kept().calls).toBeLessThanOrEqual(calls);
      // A transaction would send its 407 again after 500 ms and 1.5 s (Timer G), and a 100 first.
      expect(await caller.quiet(1_700)).toEqual([]);
      expect(caller.got.map(firstLine)).toEqual(["SIP/2.0 407 Proxy Authentication Required"]);
      // The same INVITE again (a retransmission): one answer again, byte for byte the same (the
      // same To tag and nonce), so the caller sees a retransmission of it.
      caller.send(text);
      await caller.next(isResponse(407), 3_000, 1);
      expect(caller.got).toHaveLength(2);
      expect(caller.got[1]).toBe(caller.got[0]);
    });

    it("an unauthenticated REGISTER gets one 401 and keeps no transaction; its retransmission the same 401", async () => {
      const e = await newExtension();
      const p = await phone(e);
      const kept = h.server.sip.kept().transactions;
      const first = await p.register([], 1);
      expect(h.server.sip.kept().transactions).toBe(kept);
      expect(firstLine(first)).toBe("SIP/2.0 401 Unauthorized");
      p.send(p.lastSent);
      await p.next(isResponse(401), 3_000, 1);
      expect(p.got).toHaveLength(2);
      expect(p.got[1]).toBe(p.got[0]);
      expect(await p.quiet(700)).toEqual([]);
    });
  });
});
