// Calls through the proxy (issue #4) with real SIP clients: SIPp devices registered as
// extensions (one extension with two devices where forking matters) and a SIPp caller, over UDP
// and TCP and across the two. Every case checks SIPp's exit codes (the caller's scenario, and
// 97 for a device that played its whole part) and what went over the wire in the traces: one
// INVITE per device, CANCELs reaching the branches that lost, Record-Route with ;lr, the Via
// stack on both sides, the 200 reaching the caller exactly once.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { digestHa1 } from "../../src/domain/secrets.js";
import { expectedResponse } from "../../src/sip/auth/digest.js";
import {
  type Client,
  client,
  DATABASES,
  type DbKind,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { buildRequest, headerOf, token, UdpPeer, until } from "../sip/raw-sip.js";
import { describeRun, killChildren, runSipp, type SippResult, type TraceMessage } from "./sipp.js";
import {
  branchOf,
  type Device,
  finished,
  PLAYED,
  requestsIn,
  responsesIn,
  routeEntries,
  startDevice,
  statusesIn,
  tcpExchange,
  udpExchange,
  viasOf,
} from "./sipp-calls.js";

type T = "UDP" | "TCP";
const TRANSPORTS: T[] = ["UDP", "TCP"];
const CROSS: Array<[T, T]> = [
  ["TCP", "UDP"],
  ["UDP", "TCP"],
];

interface Ext {
  id: string;
  ext: string;
  password: string;
  hash: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A test server with its own customers; devices are stopped after every test. */
function suite(kind: DbKind, env: Record<string, string> = {}) {
  const s = {
    h: undefined as unknown as Harness,
    api: undefined as unknown as Client,
    otherApi: undefined as unknown as Client,
    domain: "",
    otherDomain: "",
    devices: [] as Device[],
    n: 0,
  };

  beforeAll(async () => {
    s.h = await startHarness(kind, { env });
    s.api = client(s.h.url, s.h.admin.token);
    s.domain = s.h.admin.domainName;
    const username = `other-${randomBytes(4).toString("hex")}`;
    const password = s.h.secret(`Other-${randomBytes(6).toString("hex")}`);
    const other = await s.h.server.core.services.tenants.createTenant({
      name: "other tenant",
      admin: { username, password },
    });
    s.otherDomain = other.domain.domain_name;
    const login = await client(s.h.url).post<{ token: string }>("/auth/login", { username, password });
    expect(login.status).toBe(200);
    s.otherApi = client(s.h.url, s.h.secret(login.body.token));
  });
  afterEach(async () => {
    await Promise.all(s.devices.map((d) => d.stop()));
    s.devices = [];
  });
  afterAll(async () => {
    killChildren();
    await stopHarness(s.h);
  });
  return s;
}

type Suite = ReturnType<typeof suite>;

/** A fresh extension (so no binding of an earlier test is forked to). */
async function newExtension(s: Suite, api: Client = s.api): Promise<Ext> {
  s.n++;
  const ext = `x${s.n}-${randomBytes(2).toString("hex")}`;
  const password = s.h.secret(`Pw-${randomBytes(6).toString("hex")}`);
  const res = await api.post("/v1.0/extensions", { extension: ext, password });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { id: res.body.id as string, ext, password, hash: res.body.direct_hash as string };
}

/** Registers a SIPp device for `e` that will play `plays` when a call comes. */
async function device(s: Suite, e: Ext, transport: T, plays: string, registers?: string): Promise<Device> {
  const d = await startDevice({
    sipPort: s.h.server.sip.port,
    transport,
    user: e.ext,
    pass: e.password,
    domain: s.domain,
    plays,
    ...(registers ? { registers } : {}),
    registered: (port) =>
      s.h.server.core.location.lookup(e.id).some((b) => b.userAgent === `sipp-device ${port}`),
  });
  s.devices.push(d);
  return d;
}

/** A bare UDP socket talking SIP to the server: what it sends is lines, what it gets is kept. */
async function rawUdpPeer(s: Suite) {
  const socket = createSocket("udp4");
  const got: string[] = [];
  socket.on("message", (m) => got.push(m.toString("latin1")));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const send = (lines: string[]) =>
    socket.send(Buffer.from(`${lines.join("\r\n")}\r\n\r\n`), s.h.server.sip.port, "127.0.0.1");
  return { socket, got, port: socket.address().port, send };
}

/**
 * A device that is a bare UDP socket: registered for `e` with its digest (REGISTER, 401,
 * REGISTER with Authorization, 200), so a test can answer calls byte by byte.
 */
async function rawDevice(s: Suite, e: Ext): Promise<UdpPeer> {
  const peer = await UdpPeer.open();
  const domain = s.domain;
  const callId = `${token()}@raw-device`;
  const register = async (extra: string[], seq: number) => {
    const req = buildRequest({ transport: "UDP", port: peer.port }, domain, {
      method: "REGISTER",
      from: `<sip:${e.ext}@${domain}>;tag=raw`,
      to: `<sip:${e.ext}@${domain}>`,
      callId,
      cseq: `${seq} REGISTER`,
      extra: [`Contact: <sip:${e.ext}@127.0.0.1:${peer.port}>`, "Expires: 600", ...extra],
    });
    peer.inbox.length = 0;
    await peer.send(req.text, s.h.server.sip.port);
    return peer.response(callId);
  };
  const challenge = await register([], 1);
  const nonce = /nonce="([^"]+)"/.exec(challenge ? (headerOf(challenge, "www-authenticate") ?? "") : "")?.[1];
  expect(nonce, "the registrar's challenge").toBeDefined();
  const uri = `sip:${domain}`;
  const cnonce = token();
  const creds = {
    username: e.ext,
    realm: domain,
    nonce: nonce as string,
    uri,
    response: "",
    algorithm: "MD5" as const,
    qop: "auth",
    nc: "00000001",
    cnonce,
  };
  const response = expectedResponse(digestHa1(e.ext, domain, e.password).md5, "REGISTER", creds);
  const ok = await register(
    [
      `Authorization: Digest username="${e.ext}", realm="${domain}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`,
    ],
    2,
  );
  expect(ok?.status).toBe(200);
  return peer;
}

/** A response to a request as a device writes it: its Vias, From, Call-ID and CSeq, To tagged. */
function answer(request: string, status: string, toTag: string, extra: string[] = []): string {
  const lines = request.split("\r\n");
  const copied = lines.filter((l) => /^(Via|From|Call-ID|CSeq|Record-Route):/i.test(l));
  const to = lines.find((l) => /^To:/i.test(l)) ?? "To: <sip:unknown@invalid>";
  return [`SIP/2.0 ${status}`, ...copied, `${to};tag=${toTag}`, ...extra, "Content-Length: 0", "", ""].join(
    "\r\n",
  );
}

const directUri = (s: Suite, e: Ext) => `sip:direct.${e.hash}@${s.h.config.directDomain}`;
const addressOf = (e: Ext, domain: string) => `sip:${e.ext}@${domain}`;

/** A SIPp caller: `scenario` in scenarios/calls/, to `callee`. */
function caller(
  s: Suite,
  scenario: string,
  transport: T,
  callee: string,
  keys: Record<string, string | number> = {},
): Promise<SippResult> {
  return runSipp({
    scenario: `calls/${scenario}`,
    port: s.h.server.sip.port,
    transport: transport === "UDP" ? "u1" : "t1",
    keys: { callee, user: "caller", domain: "example.net", max_forwards: 70, ...keys },
    timeoutS: 15,
  });
}

function only(list: TraceMessage[], what: string, r: SippResult): TraceMessage {
  expect(list, `${what}\n${describeRun(r)}`).toHaveLength(1);
  return list[0] as TraceMessage;
}

/** The proxy's Via as it must sit on top of a request it forwards over `transport`. */
const proxyViaRe = (s: Suite, transport: T) =>
  new RegExp(
    `^SIP/2\\.0/${transport} ${escapeRe(s.h.config.sipAdvertisedHost)}:${s.h.server.sip.port};branch=z9hG4bK[^;]+;rport$`,
  );

/** Record-Route entries of the proxy: loose routing (;lr), its address, one per transport. */
function expectProxyRecordRoute(s: Suite, m: TraceMessage, transports: T[]): void {
  const entries = routeEntries(m, "Record-Route");
  expect(entries, m.raw).toHaveLength(transports.length);
  entries.forEach((rr, i) => {
    expect(rr).toMatch(
      new RegExp(
        `^<sip:${escapeRe(s.h.config.sipAdvertisedHost)}:${s.h.server.sip.port};transport=${transports[i]?.toLowerCase()};lr;`,
      ),
    );
  });
}

/**
 * What every connected call shows: the device got the INVITE once with the proxy's Via on top of
 * the caller's (stamped with received and rport), a Record-Route with ;lr, then the ACK and BYE
 * through the proxy; the caller got 100, 180 and exactly one 200 with its own Via only.
 */
function expectConnected(
  s: Suite,
  r: SippResult,
  dev: SippResult,
  callerT: T,
  deviceT: T,
  /** the device's Contact after the user part, which the proxy makes the Request-URI */
  contact = `127.0.0.1:${dev.localPort};transport=${deviceT}`,
): void {
  expect(r.exitCode, describeRun(r)).toBe(0);
  expect(dev.exitCode, describeRun(dev)).toBe(PLAYED);

  const invite = only(requestsIn(dev, "INVITE"), "the device got one INVITE", dev);
  expect(invite.transport).toBe(deviceT);
  expect(invite.firstLine).toMatch(new RegExp(`^INVITE sip:[^@]+@${escapeRe(contact)} SIP/2\\.0$`));
  expect(invite.headers("Max-Forwards")).toEqual(["69"]);
  const vias = viasOf(invite);
  expect(vias).toHaveLength(2);
  expect(vias[0]).toMatch(proxyViaRe(s, deviceT));
  // The caller's Via as sent (the last INVITE: the first may have been challenged), stamped by
  // the proxy with where it really came from (RFC 3581).
  const sentInvite = r.sent.filter((m) => m.firstLine.startsWith("INVITE ")).at(-1);
  const sentVia = viasOf(sentInvite as TraceMessage)[0] ?? "";
  expect(sentVia).toMatch(/;rport$/);
  const callerVia = vias[1] ?? "";
  expect(callerVia).toMatch(new RegExp(`^${escapeRe(sentVia)}=\\d+;received=127\\.0\\.0\\.1$`));
  if (callerT === "UDP") expect(callerVia).toContain(`;rport=${r.localPort};`);
  expect(invite.headers("Proxy-Authorization")).toEqual([]);
  expectProxyRecordRoute(s, invite, callerT === deviceT ? [deviceT] : [deviceT, callerT]);

  // The caller: 100 from the proxy, the device's 180 and one 200, each with the caller's Via only.
  expect(responsesIn(r, 100, "INVITE").length).toBeGreaterThanOrEqual(1);
  expect(responsesIn(r, 180, "INVITE").length).toBeGreaterThanOrEqual(1);
  const ok = only(responsesIn(r, 200, "INVITE"), "the 200 reached the caller exactly once", r);
  expect(ok.transport).toBe(callerT);
  expect(viasOf(ok)).toEqual([callerVia]);
  expectProxyRecordRoute(s, ok, callerT === deviceT ? [deviceT] : [deviceT, callerT]);
  for (const m of r.received) expect(viasOf(m)).toHaveLength(1);

  // ACK (of the 2xx, end to end) and BYE came through the proxy: its Via on top, our Route gone.
  for (const method of ["ACK", "BYE"]) {
    const m = only(requestsIn(dev, method), `the device got one ${method}`, dev);
    expect(m.headers("Max-Forwards"), method).toEqual(["69"]);
    expect(viasOf(m)[0]).toMatch(proxyViaRe(s, deviceT));
    expect(viasOf(m)).toHaveLength(2);
    expect(m.headers("Route")).toEqual([]);
  }
  for (const method of ["ACK", "BYE"]) {
    const m = r.sent.filter((x) => x.firstLine.startsWith(`${method} `)).at(-1);
    expect(routeEntries(m as TraceMessage, "Route").length, method).toBeGreaterThanOrEqual(1);
  }
  only(responsesIn(r, 200, "BYE"), "the BYE's 200 reached the caller", r);
}

describe.each(DATABASES)("calls through the proxy on %s", (kind) => {
  const s = suite(kind);

  describe.each(TRANSPORTS)("over %s", (t) => {
    it("connects a call to a direct URI: INVITE, 100, 180, 200, ACK, BYE and its 200 all pass through sipext", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, t, "answer.xml");
      const r = await caller(s, "call.xml", t, directUri(s, e));
      const dev = await finished(d);
      expectConnected(s, r, dev, t, t);
    });

    it("reaches a device behind NAT at the address its REGISTER came from, not at its Contact", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, t, "answer.xml", "device-behind-nat.xml");
      const [binding] = s.h.server.core.location.lookup(e.id);
      expect(binding?.contact).toBe(`sip:${e.ext}@192.0.2.1:5999;transport=${t}`);
      const r = await caller(s, "call.xml", t, directUri(s, e));
      const dev = await finished(d);
      // The Request-URI is the Contact as registered; the bytes went to the device's real address.
      expectConnected(s, r, dev, t, t, `192.0.2.1:5999;transport=${t}`);
    });

    it("rings both devices of an extension, connects the one that answers and CANCELs the other", async () => {
      const e = await newExtension(s);
      const answering = await device(s, e, t, "answer.xml");
      const ringing = await device(s, e, t, "ring.xml");
      const r = await caller(s, "call.xml", t, directUri(s, e));
      const [a, b] = [await finished(answering), await finished(ringing)];
      expectConnected(s, r, a, t, t);
      expect(b.exitCode, describeRun(b)).toBe(PLAYED);
      const invite = only(requestsIn(b, "INVITE"), "the ringing device got one INVITE", b);
      const cancel = only(requestsIn(b, "CANCEL"), "the CANCEL reached the other branch", b);
      // §9.1: the CANCEL names the INVITE's branch, and only the proxy's Via.
      expect(viasOf(cancel)).toEqual([viasOf(invite)[0]]);
      expect(cancel.firstLine).toBe(invite.firstLine.replace(/^INVITE/, "CANCEL"));
      // The 487 was absorbed by the proxy (its ACK came back hop by hop); the caller never saw it.
      const ack = only(requestsIn(b, "ACK"), "the proxy ACKed the 487", b);
      expect(branchOf(viasOf(ack)[0])).toBe(branchOf(viasOf(invite)[0]));
      expect(statusesIn(r)).not.toContain(487);
    });

    it("connects the device that answers when the other device of the extension is busy, and hides the 486", async () => {
      const e = await newExtension(s);
      const busy = await device(s, e, t, "busy.xml");
      const late = await device(s, e, t, "answer-late.xml");
      const r = await caller(s, "call.xml", t, directUri(s, e));
      const [b, a] = [await finished(busy), await finished(late)];
      expectConnected(s, r, a, t, t);
      expect(b.exitCode, describeRun(b)).toBe(PLAYED);
      const invite = only(requestsIn(b, "INVITE"), "the busy device got one INVITE", b);
      const ack = only(requestsIn(b, "ACK"), "the proxy ACKed the 486 hop by hop", b);
      expect(viasOf(ack)).toEqual([viasOf(invite)[0]]);
      expect(requestsIn(b, "CANCEL")).toEqual([]);
      expect(statusesIn(r)).not.toContain(486);
    });

    it("ends the call at a 603 Decline from one device, CANCELing the other that rings", async () => {
      const e = await newExtension(s);
      const declining = await device(s, e, t, "decline.xml");
      const ringing = await device(s, e, t, "ring.xml");
      const r = await caller(s, "call-rejected.xml", t, directUri(s, e));
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statusesIn(r).filter((x) => x !== 100 && x !== 180)).toEqual([603]);
      const [a, b] = [await finished(declining), await finished(ringing)];
      expect(a.exitCode, describeRun(a)).toBe(PLAYED);
      only(requestsIn(a, "ACK"), "the proxy ACKed the 603 hop by hop", a);
      expect(b.exitCode, describeRun(b)).toBe(PLAYED);
      only(requestsIn(b, "CANCEL"), "the CANCEL reached the ringing device", b);
    });

    it("passes a CANCEL before the answer to every ringing device, and the caller gets 200 then 487", async () => {
      const e = await newExtension(s);
      const one = await device(s, e, t, "ring.xml");
      const two = await device(s, e, t, "ring.xml");
      const r = await caller(s, "cancel.xml", t, directUri(s, e));
      expect(r.exitCode, describeRun(r)).toBe(0);
      only(responsesIn(r, 200, "CANCEL"), "the CANCEL was answered", r);
      only(responsesIn(r, 487, "INVITE"), "the INVITE ended with one 487", r);
      expect(responsesIn(r, 200, "INVITE")).toEqual([]);
      for (const dev of [await finished(one), await finished(two)]) {
        expect(dev.exitCode, describeRun(dev)).toBe(PLAYED);
        only(requestsIn(dev, "INVITE"), "each device got one INVITE", dev);
        only(requestsIn(dev, "CANCEL"), "each device got the CANCEL", dev);
        only(requestsIn(dev, "ACK"), "each device's 487 was ACKed by the proxy", dev);
      }
    });

    it("challenges a caller without credentials with 407 in the callee's realm, and the extension never rings", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, t, "ring.xml");
      const r = await caller(s, "call-rejected.xml", t, addressOf(e, s.domain));
      expect(r.exitCode, describeRun(r)).toBe(0);
      const challenge = only(responsesIn(r, 407, "INVITE"), "one 407", r);
      expect(challenge.firstLine).toBe("SIP/2.0 407 Proxy Authentication Required");
      expect(challenge.headers("Proxy-Authenticate")).toHaveLength(1);
      expect(challenge.headers("Proxy-Authenticate")[0]).toMatch(
        new RegExp(
          `^Digest realm="${escapeRe(s.domain)}", nonce="[A-Za-z0-9_-]+", qop="auth", algorithm=MD5$`,
        ),
      );
      const dev = await d.stop();
      expect(requestsIn(dev, "INVITE"), describeRun(dev)).toEqual([]);
    });

    it("connects a caller that authenticates as another extension of the same customer to the extension's address", async () => {
      const callee = await newExtension(s);
      const me = await newExtension(s);
      const d = await device(s, callee, t, "answer.xml");
      const r = await caller(s, "call-auth.xml", t, addressOf(callee, s.domain), {
        user: me.ext,
        pass: me.password,
        domain: s.domain,
      });
      const dev = await finished(d);
      expect(statusesIn(r).filter((x) => x !== 100 && x !== 180)).toEqual([407, 200, 200]);
      expectConnected(s, r, dev, t, t);
      // The proxy consumed the credentials meant for it.
      const sent = r.sent.filter((m) => m.firstLine.startsWith("INVITE "));
      expect(sent[1]?.headers("Proxy-Authorization")).toHaveLength(1);
    });

    it("challenges again a caller authenticated as an extension of another customer, and the extension never rings", async () => {
      const callee = await newExtension(s);
      const stranger = await newExtension(s, s.otherApi);
      const d = await device(s, callee, t, "ring.xml");
      const r = await caller(s, "call-auth-rejected.xml", t, addressOf(callee, s.domain), {
        user: stranger.ext,
        pass: stranger.password,
        domain: s.otherDomain,
      });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statusesIn(r).filter((x) => x !== 100)).toEqual([407, 407]);
      const dev = await d.stop();
      expect(requestsIn(dev, "INVITE"), describeRun(dev)).toEqual([]);
    });

    it("passes a re-INVITE, an UPDATE and an INFO inside the dialog through sipext", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, t, "answer-in-dialog.xml");
      const r = await caller(s, "call-in-dialog.xml", t, directUri(s, e));
      const dev = await finished(d);
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(dev.exitCode, describeRun(dev)).toBe(PLAYED);
      expect(requestsIn(dev, "INVITE")).toHaveLength(2);
      for (const method of ["UPDATE", "INFO", "BYE"]) {
        const m = only(requestsIn(dev, method), `the device got the ${method}`, dev);
        expect(viasOf(m)[0]).toMatch(proxyViaRe(s, t));
        expect(m.headers("Route")).toEqual([]);
        only(responsesIn(r, 200, method), `the ${method}'s 200 reached the caller`, r);
      }
      expect(requestsIn(dev, "ACK")).toHaveLength(2);
      expect(responsesIn(r, 200, "INVITE")).toHaveLength(2);
    });

    it("passes the callee's BYE back to the caller through sipext", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, t, "answer-hangup.xml");
      const r = await caller(s, "call-wait-bye.xml", t, directUri(s, e));
      const dev = await finished(d);
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(dev.exitCode, describeRun(dev)).toBe(PLAYED);
      const sentBye = dev.sent.find((m) => m.firstLine.startsWith("BYE "));
      expect(routeEntries(sentBye as TraceMessage, "Route").length).toBeGreaterThanOrEqual(1);
      const bye = only(requestsIn(r, "BYE"), "the caller got the BYE", r);
      expect(bye.transport).toBe(t);
      expect(viasOf(bye)).toHaveLength(2);
      expect(viasOf(bye)[0]).toMatch(proxyViaRe(s, t));
      expect(bye.headers("Route")).toEqual([]);
      only(responsesIn(dev, 200, "BYE"), "the caller's 200 reached the callee", dev);
    });

    it("answers 480 for an extension with no registered device", async () => {
      const e = await newExtension(s);
      const r = await caller(s, "call-rejected.xml", t, directUri(s, e));
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statusesIn(r).filter((x) => x !== 100)).toEqual([480]);
    });

    it("answers the old direct hash with 404 at once after direct-hash-regenerate, and the new one connects", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, t, "answer.xml");
      const regen = await s.api.post(`/v1.0/extensions/${e.id}/direct-hash-regenerate`);
      expect(regen.status).toBe(200);
      const fresh = { ...e, hash: regen.body.direct_hash as string };
      expect(fresh.hash).not.toBe(e.hash);
      const old = await caller(s, "call-rejected.xml", t, directUri(s, e));
      expect(old.exitCode, describeRun(old)).toBe(0);
      expect(statusesIn(old).filter((x) => x !== 100)).toEqual([404]);
      const r = await caller(s, "call.xml", t, directUri(s, fresh));
      expectConnected(s, r, await finished(d), t, t);
    });

    it("answers the direct URI and the address of a deleted extension with 404, and its device never rings", async () => {
      const e = await newExtension(s);
      const me = await newExtension(s);
      const d = await device(s, e, t, "ring.xml");
      expect((await s.api.del(`/v1.0/extensions/${e.id}`)).status).toBe(200);
      const direct = await caller(s, "call-rejected.xml", t, directUri(s, e));
      expect(direct.exitCode, describeRun(direct)).toBe(0);
      expect(statusesIn(direct).filter((x) => x !== 100)).toEqual([404]);
      const address = await caller(s, "call-auth-rejected.xml", t, addressOf(e, s.domain), {
        user: me.ext,
        pass: me.password,
        domain: s.domain,
      });
      expect(address.exitCode, describeRun(address)).toBe(0);
      expect(statusesIn(address).filter((x) => x !== 100)).toEqual([407, 404]);
      const dev = await d.stop();
      expect(requestsIn(dev, "INVITE"), describeRun(dev)).toEqual([]);
    });

    it("answers an unknown extension address (to an authenticated caller) and an unknown direct hash with 404", async () => {
      const me = await newExtension(s);
      const address = await caller(s, "call-auth-rejected.xml", t, `sip:no-such-extension@${s.domain}`, {
        user: me.ext,
        pass: me.password,
        domain: s.domain,
      });
      expect(address.exitCode, describeRun(address)).toBe(0);
      expect(statusesIn(address).filter((x) => x !== 100)).toEqual([407, 404]);
      const direct = await caller(
        s,
        "call-rejected.xml",
        t,
        `sip:direct.000000000000@${s.h.config.directDomain}`,
      );
      expect(direct.exitCode, describeRun(direct)).toBe(0);
      expect(statusesIn(direct).filter((x) => x !== 100)).toEqual([404]);
    });

    it("answers an INVITE with Max-Forwards: 0 with 483 Too Many Hops, and the device never rings", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, t, "ring.xml");
      const r = await caller(s, "call-rejected.xml", t, directUri(s, e), { max_forwards: 0 });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statusesIn(r).filter((x) => x !== 100)).toEqual([483]);
      const dev = await d.stop();
      expect(requestsIn(dev, "INVITE"), describeRun(dev)).toEqual([]);
    });
  });

  describe.each(CROSS)("from a %s caller to a device registered over %s", (callerT, deviceT) => {
    it("connects the call, with one Record-Route facing each transport, and the BYE passes", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, deviceT, "answer.xml");
      const r = await caller(s, "call.xml", callerT, directUri(s, e));
      const dev = await finished(d);
      expectConnected(s, r, dev, callerT, deviceT);
      expect(r.received.every((m) => m.transport === callerT)).toBe(true);
      expect(dev.received.every((m) => m.transport === deviceT)).toBe(true);
    });

    it("passes the callee's BYE back across the transports", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, deviceT, "answer-hangup.xml");
      const r = await caller(s, "call-wait-bye.xml", callerT, directUri(s, e));
      const dev = await finished(d);
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(dev.exitCode, describeRun(dev)).toBe(PLAYED);
      only(requestsIn(r, "BYE"), "the caller got the BYE", r);
      only(responsesIn(dev, 200, "BYE"), "the caller's 200 reached the callee", dev);
    });
  });
  it("rejects an INVITE before forwarding statelessly over UDP (CONTRACT §9): one 480, no 100, not retransmitted, the ACK taken silently", async () => {
    const e = await newExtension(s);
    const callee = directUri(s, e);
    const { socket, got, port, send } = await rawUdpPeer(s);
    const branch = `z9hG4bK-ack${randomBytes(6).toString("hex")}`;
    const common = [
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch};rport`,
      "Max-Forwards: 70",
      "From: <sip:raw@example.net>;tag=raw3",
    ];
    try {
      send([
        `INVITE ${callee} SIP/2.0`,
        ...common,
        `To: <${callee}>`,
        `Call-ID: ${branch}`,
        "CSeq: 1 INVITE",
        "Content-Length: 0",
      ]);
      const until = Date.now() + 3000;
      while (!got.some((m) => m.startsWith("SIP/2.0 480 ")) && Date.now() < until) await sleep(10);
      const final = got.find((m) => m.startsWith("SIP/2.0 480 ")) ?? "";
      const to = /\r\nTo: ([^\r]+)/.exec(final)?.[1] ?? "";
      expect(to).toMatch(/;tag=/);
      send([
        `ACK ${callee} SIP/2.0`,
        ...common,
        `To: ${to}`,
        `Call-ID: ${branch}`,
        "CSeq: 1 ACK",
        "Content-Length: 0",
      ]);
      // A transaction would have sent the 480 again after 500 ms and 1.5 s (Timer G): stateless,
      // one datagram in is one datagram out, whatever comes after it.
      await sleep(1600);
      expect(got.map((m) => m.split("\r\n")[0])).toEqual(["SIP/2.0 480 Temporarily Unavailable"]);
    } finally {
      socket.close();
    }
  });

  it("after the answer, absorbs a retransmitted INVITE, answers a late CANCEL 200, relays the device's 200 retransmission, and takes a BYE from a new port", async () => {
    // A call answered with a 2xx is retired to its key alone (proxy.ts, maybeRetire): this is
    // everything RFC 6026's Accepted states still have to do then.
    const e = await newExtension(s);
    const d = await device(s, e, "UDP", "answer.xml");
    const callee = directUri(s, e);
    const { socket, got, port, send } = await rawUdpPeer(s);
    const id = randomBytes(6).toString("hex");
    const from = `From: <sip:raw@example.net>;tag=late${id}`;
    const via = (branch: string, viaPort = port) =>
      `Via: SIP/2.0/UDP 127.0.0.1:${viaPort};branch=z9hG4bK-${branch};rport`;
    const first = (m: string) => m.split("\r\n")[0];
    const cseqOf = (m: string) => /\r\nCSeq: ([^\r]+)/i.exec(m)?.[1];
    const waitFor = async (what: (m: string) => boolean, count = 1) => {
      await until(`${count} such message(s) at the caller`, () => got.filter(what).length >= count);
      return got.filter(what);
    };
    const invite = [
      `INVITE ${callee} SIP/2.0`,
      via(`inv${id}`),
      "Max-Forwards: 70",
      from,
      `To: <${callee}>`,
      `Call-ID: late-${id}`,
      "CSeq: 1 INVITE",
      `Contact: <sip:raw@127.0.0.1:${port}>`,
      "Content-Length: 0",
    ];
    try {
      send(invite);
      const [ok] = await waitFor((m) => first(m) === "SIP/2.0 200 OK" && cseqOf(m) === "1 INVITE");
      expect(ok, got.join("\n")).toBeDefined();
      // The INVITE again, and a CANCEL of it: the call is over for both.
      send(invite);
      send([`CANCEL ${callee} SIP/2.0`, ...invite.slice(1, 6), "CSeq: 1 CANCEL", "Content-Length: 0"]);
      const cancelOk = await waitFor((m) => cseqOf(m) === "1 CANCEL");
      expect(cancelOk.map(first)).toEqual(["SIP/2.0 200 OK"]);
      // Unacknowledged, the device sends its 200 again after 500 ms: it still reaches the caller.
      const oks = await waitFor((m) => first(m) === "SIP/2.0 200 OK" && cseqOf(m) === "1 INVITE", 2);
      expect(oks).toHaveLength(2);
      // The retransmitted INVITE started nothing: one 100, and only the device's 180 and 200s.
      const inviteResponses = got.filter((m) => cseqOf(m) === "1 INVITE").map(first);
      expect(inviteResponses.filter((l) => l === "SIP/2.0 100 Trying")).toHaveLength(1);
      expect(inviteResponses.filter((l) => !/^SIP\/2\.0 (100|180|200) /.test(l ?? ""))).toEqual([]);

      // ACK and BYE along the route set, to the device's Contact.
      const okText = ok as string;
      const to = /\r\nTo: ([^\r]+)/.exec(okText)?.[1] ?? "";
      const contact = /\r\nContact: <([^>]+)>/.exec(okText)?.[1] ?? "";
      const routes = [...okText.matchAll(/\r\nRecord-Route: ([^\r]+)/g)].map((m) => m[1]);
      const inDialog = (method: string, seq: number, branch: string, viaPort = port) => [
        `${method} ${contact} SIP/2.0`,
        via(branch, viaPort),
        ...routes.map((r) => `Route: ${r}`),
        "Max-Forwards: 70",
        from,
        `To: ${to}`,
        `Call-ID: late-${id}`,
        `CSeq: ${seq} ${method}`,
        "Content-Length: 0",
      ];
      send(inDialog("ACK", 1, `ack${id}`));
      // The BYE comes from another port of the caller's address, as after a NAT rebinding: it
      // matches neither flow of the dialog's tokens, and goes to the callee by the address.
      const rebound = await rawUdpPeer(s);
      try {
        rebound.send(inDialog("BYE", 2, `bye${id}`, rebound.port));
        await until("the BYE's 200 at the new port", () => rebound.got.some((m) => cseqOf(m) === "2 BYE"));
        expect(rebound.got.filter((m) => cseqOf(m) === "2 BYE").map(first)).toEqual(["SIP/2.0 200 OK"]);
        expect(got.filter((m) => cseqOf(m) === "2 BYE")).toEqual([]);
      } finally {
        rebound.socket.close();
      }

      const dev = await finished(d);
      expect(dev.exitCode, describeRun(dev)).toBe(PLAYED);
      expect(requestsIn(dev, "INVITE")).toHaveLength(1);
      expect(requestsIn(dev, "CANCEL")).toHaveLength(0);
    } finally {
      socket.close();
    }
  });

  it("answers a CANCEL that matches no pending INVITE with 481", async () => {
    const e = await newExtension(s);
    const callee = directUri(s, e);
    const branch = `z9hG4bK-cancel${randomBytes(6).toString("hex")}`;
    const cancel = [
      `CANCEL ${callee} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:9;branch=${branch};rport`,
      "Max-Forwards: 70",
      "From: <sip:raw@example.net>;tag=raw4",
      `To: <${callee}>`,
      `Call-ID: ${branch}`,
      "CSeq: 1 CANCEL",
      "Content-Length: 0",
    ];
    const lines = await udpExchange(s.h.server.sip.port, Buffer.from(`${cancel.join("\r\n")}\r\n\r\n`));
    expect(lines).toEqual(["SIP/2.0 481 Call/Transaction Does Not Exist"]);
  });

  it("leaves no extension password or login token in clear in the logs or the database", async () => {
    await s.h.assertNoPlaintextSecrets();
  });

  describe("malformed INVITEs", () => {
    const SDP =
      "v=0\r\no=m 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n";

    /** An INVITE as a raw client would write it, each header line editable. */
    function rawInvite(callee: string, transport: T, edit: (lines: string[]) => string[] = (l) => l): Buffer {
      const branch = `z9hG4bK-raw${randomBytes(6).toString("hex")}`;
      const head = [
        `INVITE ${callee} SIP/2.0`,
        `Via: SIP/2.0/${transport} 127.0.0.1:9;branch=${branch};rport`,
        "Max-Forwards: 70",
        "From: <sip:raw@example.net>;tag=raw1",
        `To: <${callee}>`,
        `Call-ID: ${branch}@example.net`,
        "CSeq: 1 INVITE",
        "Contact: <sip:raw@127.0.0.1:9>",
        "Content-Type: application/sdp",
        `Content-Length: ${SDP.length}`,
      ];
      return Buffer.from(`${edit(head).join("\r\n")}\r\n\r\n${SDP}`, "latin1");
    }
    const replace = (name: string, line: string) => (lines: string[]) =>
      lines.map((l) => (l.toLowerCase().startsWith(`${name.toLowerCase()}:`) ? line : l));

    async function exchange(t: T, data: Buffer): Promise<string[]> {
      const port = s.h.server.sip.port;
      return t === "UDP" ? udpExchange(port, data) : (await tcpExchange(port, data)).lines;
    }

    describe.each(TRANSPORTS)("over %s", (t) => {
      it("answers an INVITE whose Max-Forwards has no value with 400 naming the header, and the device never rings", async () => {
        const e = await newExtension(s);
        const d = await device(s, e, t, "ring.xml");
        const lines = await exchange(
          t,
          rawInvite(directUri(s, e), t, replace("Max-Forwards", "Max-Forwards:")),
        );
        expect(lines).toEqual(["SIP/2.0 400 Bad Request (Malformed Max-Forwards header)"]);
        expect(requestsIn(await d.stop(), "INVITE")).toEqual([]);
      });

      it("answers an INVITE with a malformed Request-URI with 400, and one with a non-SIP URI with 416", async () => {
        const e = await newExtension(s);
        const bad = rawInvite(directUri(s, e), t, (l) => [`INVITE sip:@@${e.hash} SIP/2.0`, ...l.slice(1)]);
        expect(await exchange(t, bad)).toEqual(["SIP/2.0 400 Bad Request (Malformed Request-URI)"]);
        const mailto = rawInvite(directUri(s, e), t, (l) => [
          "INVITE mailto:someone@example.net SIP/2.0",
          ...l.slice(1),
        ]);
        // Rejected before forwarding: once, statelessly (no 100, no retransmission over UDP).
        expect(await exchange(t, mailto)).toEqual(["SIP/2.0 416 Unsupported URI Scheme"]);
      });

      it("answers a 64 KB INVITE with a huge header like any other (480 with no device, the stack does not choke)", async () => {
        const e = await newExtension(s);
        const huge = rawInvite(directUri(s, e), t, (l) => [...l, `Subject: ${"x".repeat(64_000)}`]);
        expect(huge.length).toBeLessThan(65_507);
        expect(await exchange(t, huge)).toEqual(["SIP/2.0 480 Temporarily Unavailable"]);
      });
    });

    it("answers an SDP INVITE with a garbage Content-Length with 400 over UDP, and the device never rings", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, "UDP", "ring.xml");
      const lines = await udpExchange(
        s.h.server.sip.port,
        rawInvite(directUri(s, e), "UDP", replace("Content-Length", "Content-Length: 1x0")),
      );
      expect(lines).toEqual(["SIP/2.0 400 Bad Request (Malformed Content-Length header)"]);
      expect(requestsIn(await d.stop(), "INVITE")).toEqual([]);
    });

    it("closes a TCP connection whose INVITE has a garbage Content-Length (it cannot be framed), and the device never rings", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, "TCP", "ring.xml");
      const garbage = s.h.server.sip.stats.garbage;
      const r = await tcpExchange(
        s.h.server.sip.port,
        rawInvite(directUri(s, e), "TCP", replace("Content-Length", "Content-Length: 1x0")),
      );
      expect(r).toEqual({ lines: [], closedByServer: true });
      expect(s.h.server.sip.stats.garbage).toBe(garbage + 1);
      expect(requestsIn(await d.stop(), "INVITE")).toEqual([]);
    });

    it("closes a TCP connection that sends an INVITE over 64 KiB, answering nothing", async () => {
      const e = await newExtension(s);
      const huge = rawInvite(directUri(s, e), "TCP", (l) => [...l, `Subject: ${"x".repeat(70_000)}`]);
      expect(await tcpExchange(s.h.server.sip.port, huge)).toEqual({ lines: [], closedByServer: true });
    });

    it("answers a 65 KB INVITE for a device registered over UDP with 513 at once: it cannot go in one datagram", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, "UDP", "ring.xml");
      const pad = (n: number) =>
        rawInvite(directUri(s, e), "UDP", (l) => [...l, `Subject: ${"x".repeat(n)}`]);
      const huge = pad(65_400 - pad(0).length);
      expect(huge.length).toBe(65_400);
      const lines = await udpExchange(s.h.server.sip.port, huge);
      expect(lines[0]).toBe("SIP/2.0 100 Trying");
      expect(lines[1]).toBe("SIP/2.0 513 Message Too Large");
      expect(requestsIn(await d.stop(), "INVITE")).toEqual([]);
    });

    it("answers a 65 KB MESSAGE for a device registered over UDP with 513 at once, too", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, "UDP", "ring.xml");
      const callee = directUri(s, e);
      const branch = `z9hG4bK-raw${randomBytes(6).toString("hex")}`;
      const withBody = (text: string) =>
        Buffer.from(
          [
            `MESSAGE ${callee} SIP/2.0`,
            `Via: SIP/2.0/UDP 127.0.0.1:9;branch=${branch};rport`,
            "Max-Forwards: 70",
            "From: <sip:raw@example.net>;tag=raw2",
            `To: <${callee}>`,
            `Call-ID: ${branch}@example.net`,
            "CSeq: 1 MESSAGE",
            "Content-Type: text/plain",
            `Content-Length: ${String(text.length).padStart(5, "0")}`,
            "",
            text,
          ].join("\r\n"),
        );
      // Fits in one datagram as sent; the proxy's Via and the stamps on the caller's push it over.
      const message = withBody("y".repeat(65_450 - withBody("").length));
      expect(message.length).toBe(65_450);
      expect(await udpExchange(s.h.server.sip.port, message)).toEqual(["SIP/2.0 513 Message Too Large"]);
      expect(requestsIn(await d.stop(), "MESSAGE")).toEqual([]);
    });

    it.each(TRANSPORTS)(
      "still answers OPTIONS over %s and connects a call after all of the above",
      async (t) => {
        const options = await runSipp({
          scenario: "options.xml",
          port: s.h.server.sip.port,
          transport: t === "UDP" ? "u1" : "t1",
          keys: { domain: s.domain },
        });
        expect(options.exitCode, describeRun(options)).toBe(0);
        expect(statusesIn(options)).toEqual([200]);
        const e = await newExtension(s);
        const d = await device(s, e, t, "answer.xml");
        const r = await caller(s, "call.xml", t, directUri(s, e));
        expectConnected(s, r, await finished(d), t, t);
      },
    );
  });
});

describe.each(DATABASES)("unanswered calls on %s with SIPEXT_RING_TIMEOUT=2", (kind) => {
  const s = suite(kind, { SIPEXT_RING_TIMEOUT: "2" });

  describe.each(TRANSPORTS)("over %s", (t) => {
    it("gives up after 2 seconds: the caller gets 480 and both ringing devices the CANCEL", async () => {
      const e = await newExtension(s);
      const one = await device(s, e, t, "ring.xml");
      const two = await device(s, e, t, "ring.xml");
      const started = Date.now();
      const r = await caller(s, "call-rejected.xml", t, directUri(s, e));
      const elapsed = Date.now() - started;
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statusesIn(r).filter((x) => x !== 100 && x !== 180)).toEqual([480]);
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      expect(elapsed).toBeLessThan(5000);
      for (const dev of [await finished(one), await finished(two)]) {
        expect(dev.exitCode, describeRun(dev)).toBe(PLAYED);
        only(requestsIn(dev, "INVITE"), "each device got one INVITE", dev);
        only(requestsIn(dev, "CANCEL"), "each device got the CANCEL", dev);
      }
    });

    it("tells the caller 486 when one device is busy and the other rings past the ring timeout", async () => {
      const e = await newExtension(s);
      const busy = await device(s, e, t, "busy.xml");
      const ringing = await device(s, e, t, "ring.xml");
      const r = await caller(s, "call-rejected.xml", t, directUri(s, e));
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statusesIn(r).filter((x) => x !== 100 && x !== 180)).toEqual([486]);
      const [b, g] = [await finished(busy), await finished(ringing)];
      expect(b.exitCode, describeRun(b)).toBe(PLAYED);
      expect(g.exitCode, describeRun(g)).toBe(PLAYED);
      only(requestsIn(g, "CANCEL"), "the ringing device got the CANCEL", g);
    });

    if (t === "UDP") {
      it("relays a device's 200 that comes after the ring timeout gave it up, so the caller can hang it up", async () => {
        const e = await newExtension(s);
        const dev = await rawDevice(s, e);
        const { socket, got, send } = await rawUdpPeer(s);
        const callee = directUri(s, e);
        const id = token();
        const finals = () =>
          got
            .filter((m) => /\r\nCSeq: 1 INVITE\r\n/.test(m) && !/^SIP\/2\.0 1/.test(m))
            .map((m) => m.split("\r\n")[0]);
        try {
          send([
            `INVITE ${callee} SIP/2.0`,
            `Via: SIP/2.0/UDP 127.0.0.1:${socket.address().port};branch=z9hG4bK-late${id};rport`,
            "Max-Forwards: 70",
            `From: <sip:raw@example.net>;tag=late${id}`,
            `To: <${callee}>`,
            `Call-ID: late-${id}`,
            "CSeq: 1 INVITE",
            `Contact: <sip:raw@127.0.0.1:${socket.address().port}>`,
            "Content-Length: 0",
          ]);
          // The device says nothing until the ring timeout has given it up (480 to the caller)...
          await until("the INVITE at the device", () =>
            dev.other.some((d) => d.toString().startsWith("INVITE ")),
          );
          await until("the caller's 480", () => finals().length > 0, 5_000);
          expect(finals()).toEqual(["SIP/2.0 480 Temporarily Unavailable (no answer)"]);
          // ...then answers: the 200 still reaches the caller, with the caller's Via only.
          const invite = (dev.other.find((d) => d.toString().startsWith("INVITE ")) as Buffer).toString();
          await dev.send(
            answer(invite, "200 OK", "dev1", [`Contact: <sip:dev@127.0.0.1:${dev.port}>`]),
            s.h.server.sip.port,
          );
          await until("the late 200 at the caller", () => finals().length > 1);
          expect(finals()).toEqual(["SIP/2.0 480 Temporarily Unavailable (no answer)", "SIP/2.0 200 OK"]);
          const ok = got.find((m) => m.startsWith("SIP/2.0 200 OK")) ?? "";
          expect(ok.match(/\r\nVia: /g)).toHaveLength(1);
          expect(ok).toContain(`branch=z9hG4bK-late${id}`);
        } finally {
          socket.close();
          await dev.close();
        }
      });
    }

    it("gives up after 2 seconds on a device that answers nothing, not even 180, and sends it no CANCEL", async () => {
      const e = await newExtension(s);
      const d = await device(s, e, t, "silent.xml");
      const started = Date.now();
      const r = await caller(s, "call-rejected.xml", t, directUri(s, e));
      const elapsed = Date.now() - started;
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statusesIn(r).filter((x) => x !== 100)).toEqual([480]);
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      expect(elapsed).toBeLessThan(5000);
      const dev = await d.stop();
      // Over UDP the proxy retransmitted the INVITE (Timer A: 0.5 s, then 1 s later): the same
      // branch every time; over TCP it is sent once.
      const invites = requestsIn(dev, "INVITE");
      if (t === "UDP") expect(invites.length).toBeGreaterThanOrEqual(2);
      else expect(invites).toHaveLength(1);
      expect(new Set(invites.map((m) => branchOf(viasOf(m)[0]))).size).toBe(1);
      // §9.1: no CANCEL before a provisional response.
      expect(requestsIn(dev, "CANCEL")).toEqual([]);
    });
  });
});
