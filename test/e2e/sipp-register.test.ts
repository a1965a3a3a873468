// The registrar driven by a real SIP client, SIPp, over UDP and TCP (CONTRACT §7): every case
// checks what went over the wire (SIPp's own scenario checks plus its message trace) and what the
// REST API then shows in GET /v1.0/extensions/{id}/contacts.
import { createHash, randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../src/contract/contact.js";
import { expectedResponse } from "../../src/sip/auth/digest.js";
import { systemClock } from "../../src/util/time.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { describeRun, killChildren, runSipp, type SippResult, type TraceMessage } from "./sipp.js";

const TRANSPORTS = [
  ["UDP", "u1"],
  ["TCP", "t1"],
] as const;

const UA = "sipp-e2e/3.6";
const NONCE_LIFETIME_US = 5 * 60 * 1_000_000;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The challenge exactly as CONTRACT §7 spells it, for this realm. */
function challengeRe(realm: string, stale = false): RegExp {
  return new RegExp(
    `^Digest realm="${escapeRe(realm)}", nonce="[A-Za-z0-9_-]{40}", qop="auth", algorithm=MD5${stale ? ", stale=true" : ""}$`,
  );
}

/** What a 401 looks like with its nonce and realm taken out: must not tell one failure from another. */
function challengeShape(m: TraceMessage, realm: string) {
  return {
    firstLine: m.firstLine,
    headerNames: m.headerNames,
    challenges: m
      .headers("WWW-Authenticate")
      .map((v) => v.replace(/nonce="[^"]*"/, 'nonce="…"').replace(`realm="${realm}"`, 'realm="…"')),
  };
}

/** `Contact: <uri>;expires=N` lines of a 200, as uri → N. */
function boundContacts(m: TraceMessage): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of m.headers("Contact")) {
    const c = /^<([^>]+)>;expires=(\d+)/.exec(line);
    if (c?.[1] && c[2]) out.set(c[1], Number(c[2]));
  }
  return out;
}

const statuses = (r: SippResult) => r.received.map((m) => m.status);

function lastReceived(r: SippResult): TraceMessage {
  const m = r.received.at(-1);
  if (!m) throw new Error(`SIPp received nothing\n${describeRun(r)}`);
  return m;
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(DATABASES)("SIPp registering against the registrar on %s", (kind) => {
  let h: Harness;
  let api: Client;
  let domain: string;
  let otherDomain: string;
  let token: string;
  let n = 0;

  beforeAll(async () => {
    h = await startHarness(kind);
    token = h.admin.token;
    api = client(h.url, token);
    domain = h.admin.domainName;
    const other = await h.server.core.services.tenants.createTenant({
      name: "other tenant",
      admin: { username: `other-${randomBytes(4).toString("hex")}`, password: "Other-admin-pass-1" },
    });
    otherDomain = other.domain.domain_name;
  });
  afterAll(async () => {
    killChildren();
    await stopHarness(h);
  });

  /** A fresh extension (name unique in the suite) with its password. */
  async function newExtension(): Promise<{ id: string; ext: string; password: string }> {
    n++;
    const ext = `e${n}`;
    const password = h.secret(`Pw-${randomBytes(6).toString("hex")}`);
    const res = await api.post("/v1.0/extensions", { extension: ext, password });
    expect(res.status).toBe(200);
    return { id: res.body.id as string, ext, password };
  }

  async function contactsOf(id: string): Promise<Contact[]> {
    const res = await api.get<{ result: Contact[] }>(`/v1.0/extensions/${id}/contacts`);
    expect(res.status).toBe(200);
    return res.body.result;
  }

  function sipp(
    scenario: string,
    transport: "u1" | "t1",
    keys: Record<string, string | number>,
    more: { localPort?: number; extraArgs?: string[] } = {},
  ): Promise<SippResult> {
    return runSipp({
      scenario,
      port: h.server.sip.port,
      transport,
      keys: { domain, ua: UA, expires: 3600, ...keys },
      localPort: more.localPort,
      extraArgs: more.extraArgs,
    });
  }

  describe.each(TRANSPORTS)("over %s", (T, t) => {
    /** The 401 an unauthenticated REGISTER gets, as the reference every rejection must look like. */
    let reference: ReturnType<typeof challengeShape>;

    beforeAll(async () => {
      const e = await newExtension();
      const r = await sipp("register.xml", t, { user: e.ext, pass: e.password });
      expect(r.exitCode, describeRun(r)).toBe(0);
      const first = r.received[0];
      if (!first) throw new Error(describeRun(r));
      reference = challengeShape(first, domain);
    });

    it("registers after a 401 spelled as the contract shows it, with no 100 Trying, and the API lists the binding", async () => {
      const e = await newExtension();
      const r = await sipp("register.xml", t, { user: e.ext, pass: e.password, expires: 3600 });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 200]);
      const [challenge, ok] = r.received as [TraceMessage, TraceMessage];
      expect(challenge.transport).toBe(T);
      expect(challenge.headers("WWW-Authenticate")).toHaveLength(1);
      expect(challenge.headers("WWW-Authenticate")[0]).toMatch(challengeRe(domain));
      expect(challenge.raw).not.toMatch(/opaque/i);
      // Date within a minute of now, and the Contact with the expires it was granted.
      const date = Date.parse(ok.headers("Date")[0] ?? "");
      expect(Math.abs(date - Date.now())).toBeLessThan(60_000);
      const uri = `sip:${e.ext}@127.0.0.1:${r.localPort};transport=${T}`;
      const bound = boundContacts(ok);
      expect([...bound.keys()]).toEqual([uri]);
      expect(bound.get(uri)).toBeGreaterThanOrEqual(3595);
      expect(bound.get(uri)).toBeLessThanOrEqual(3600);

      const sentAuth = r.sent[1];
      const contacts = await contactsOf(e.id);
      expect(contacts).toHaveLength(1);
      const c = contacts[0] as Contact;
      expect(c.uri).toBe(uri);
      expect(c.transport).toBe(T);
      // SIPp sends UDP from its -p port; over TCP it connects from an ephemeral port.
      if (T === "UDP") expect(c.source).toBe(`127.0.0.1:${r.localPort}`);
      else expect(c.source).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(c.user_agent).toBe(UA);
      expect(c.call_id).toBe(sentAuth?.headers("Call-ID")[0]);
      expect(c.cseq).toBe(2);
      expect(c.expires).toBeGreaterThanOrEqual(3595);
      expect(c.expires).toBeLessThanOrEqual(3600);
      expect(c.instance_id).toBe("");
    });

    it("answers a wrong password with the same challenge again and binds nothing", async () => {
      const e = await newExtension();
      const r = await sipp("register-rejected.xml", t, { user: e.ext, pass: "Wrong-password-1" });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 401]);
      for (const m of r.received) {
        expect(m.headers("WWW-Authenticate")[0]).toMatch(challengeRe(domain));
        expect(challengeShape(m, domain)).toEqual(reference);
      }
      expect(await contactsOf(e.id)).toEqual([]);
    });

    it("answers an extension that does not exist with the same challenge", async () => {
      const r = await sipp("register-rejected.xml", t, { user: "no-such-ext", pass: "Whatever-pass-1" });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 401]);
      for (const m of r.received) {
        expect(m.headers("WWW-Authenticate")[0]).toMatch(challengeRe(domain));
        expect(challengeShape(m, domain)).toEqual(reference);
      }
    });

    it("answers good credentials sent to another customer's domain with that domain's challenge", async () => {
      const e = await newExtension();
      const r = await sipp("register-rejected.xml", t, {
        user: e.ext,
        pass: e.password,
        domain: otherDomain,
      });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 401]);
      for (const m of r.received) {
        // The realm is the domain the REGISTER named: nothing tells that the extension exists elsewhere.
        expect(m.headers("WWW-Authenticate")[0]).toMatch(challengeRe(otherDomain));
        expect(challengeShape(m, otherDomain)).toEqual(reference);
      }
      expect(await contactsOf(e.id)).toEqual([]);
    });

    it("answers a deleted extension with the same challenge", async () => {
      const e = await newExtension();
      expect((await api.del(`/v1.0/extensions/${e.id}`)).status).toBe(200);
      const r = await sipp("register-rejected.xml", t, { user: e.ext, pass: e.password });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 401]);
      for (const m of r.received) {
        expect(m.headers("WWW-Authenticate")[0]).toMatch(challengeRe(domain));
        expect(challengeShape(m, domain)).toEqual(reference);
      }
      expect(await contactsOf(e.id)).toEqual([]);
    });

    it("removes a binding on Expires: 0 and lists only what remains", async () => {
      const e = await newExtension();
      const keep = await sipp("register.xml", t, { user: e.ext, pass: e.password });
      const gone = await sipp("register.xml", t, { user: e.ext, pass: e.password });
      expect(keep.exitCode, describeRun(keep)).toBe(0);
      expect(gone.exitCode, describeRun(gone)).toBe(0);
      const goneUri = `sip:${e.ext}@127.0.0.1:${gone.localPort};transport=${T}`;
      const keepUri = `sip:${e.ext}@127.0.0.1:${keep.localPort};transport=${T}`;
      expect((await contactsOf(e.id)).map((c) => c.uri).sort()).toEqual([goneUri, keepUri].sort());

      const r = await sipp(
        "unregister.xml",
        t,
        { user: e.ext, pass: e.password, expires: 0 },
        { localPort: gone.localPort },
      );
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 200]);
      expect([...boundContacts(lastReceived(r)).keys()]).toEqual([keepUri]);
      expect((await contactsOf(e.id)).map((c) => c.uri)).toEqual([keepUri]);
    });

    it("removes every binding on Contact: * with Expires: 0", async () => {
      const e = await newExtension();
      for (let i = 0; i < 2; i++) {
        const r = await sipp("register.xml", t, { user: e.ext, pass: e.password });
        expect(r.exitCode, describeRun(r)).toBe(0);
      }
      expect(await contactsOf(e.id)).toHaveLength(2);
      const r = await sipp("unregister-all.xml", t, { user: e.ext, pass: e.password, expires: 0 });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 200]);
      expect(lastReceived(r).headers("Contact")).toEqual([]);
      expect(await contactsOf(e.id)).toEqual([]);
    });

    it("refuses Contact: * with a non-zero Expires with 400 and keeps the bindings", async () => {
      const e = await newExtension();
      const reg = await sipp("register.xml", t, { user: e.ext, pass: e.password });
      expect(reg.exitCode, describeRun(reg)).toBe(0);
      const r = await sipp("unregister-all-rejected.xml", t, { user: e.ext, pass: e.password, expires: 600 });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 400]);
      expect(lastReceived(r).firstLine).toMatch(/^SIP\/2\.0 400 Bad Request \(.+\)$/);
      expect(await contactsOf(e.id)).toHaveLength(1);
    });

    it("answers Expires: 30 with 423 Interval Too Brief and Min-Expires: 60, binding nothing", async () => {
      const e = await newExtension();
      const r = await sipp("register-too-brief.xml", t, { user: e.ext, pass: e.password, expires: 30 });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 423]);
      expect(lastReceived(r).firstLine).toBe("SIP/2.0 423 Interval Too Brief");
      expect(lastReceived(r).headers("Min-Expires")).toEqual(["60"]);
      expect(await contactsOf(e.id)).toEqual([]);
    });

    it("clamps Expires: 100000 to 7200", async () => {
      const e = await newExtension();
      const r = await sipp("register.xml", t, { user: e.ext, pass: e.password, expires: 100_000 });
      expect(r.exitCode, describeRun(r)).toBe(0);
      const granted = [...boundContacts(lastReceived(r)).values()];
      expect(granted).toHaveLength(1);
      expect(granted[0]).toBeGreaterThanOrEqual(7195);
      expect(granted[0]).toBeLessThanOrEqual(7200);
      const [c] = await contactsOf(e.id);
      expect(c?.expires).toBeGreaterThanOrEqual(7195);
      expect(c?.expires).toBeLessThanOrEqual(7200);
    });

    it("grants 3600 seconds when the REGISTER has no Expires", async () => {
      const e = await newExtension();
      const r = await sipp("register-no-expires.xml", t, { user: e.ext, pass: e.password });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(r.sent.every((m) => m.headers("Expires").length === 0)).toBe(true);
      const granted = [...boundContacts(lastReceived(r)).values()];
      expect(granted).toHaveLength(1);
      expect(granted[0]).toBeGreaterThanOrEqual(3595);
      expect(granted[0]).toBeLessThanOrEqual(3600);
      const [c] = await contactsOf(e.id);
      expect(c?.expires).toBeGreaterThanOrEqual(3595);
      expect(c?.expires).toBeLessThanOrEqual(3600);
    });

    it("replaces the oldest of three contacts when a fourth registers", async () => {
      const e = await newExtension();
      const uris: string[] = [];
      let last: SippResult | undefined;
      for (let i = 0; i < 4; i++) {
        last = await sipp("register.xml", t, { user: e.ext, pass: e.password });
        expect(last.exitCode, describeRun(last)).toBe(0);
        uris.push(`sip:${e.ext}@127.0.0.1:${last.localPort};transport=${T}`);
      }
      expect(new Set(uris).size).toBe(4);
      const survivors = uris.slice(1).sort();
      expect([...boundContacts(lastReceived(last as SippResult)).keys()].sort()).toEqual(survivors);
      expect((await contactsOf(e.id)).map((c) => c.uri).sort()).toEqual(survivors);
    });

    it("refuses a REGISTER that reuses the Call-ID with a lower CSeq with 400, changing nothing (§10.3 step 7)", async () => {
      const e = await newExtension();
      const r = await sipp("cseq-order.xml", t, { user: e.ext, pass: e.password, expires: 3600 });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 200, 400]);
      expect(r.received[2]?.firstLine).toBe("SIP/2.0 400 Bad Request (CSeq lower than the binding's)");
      expect(r.sent.map((m) => m.headers("CSeq")[0])).toEqual(["1 REGISTER", "2 REGISTER", "1 REGISTER"]);
      expect(r.sent[2]?.headers("Expires")).toEqual(["0"]);
      const uri = `sip:${e.ext}@127.0.0.1:${r.localPort};transport=${T}`;
      // The CSeq 1 "Expires: 0" did not remove it: the API still lists it.
      const contacts = await contactsOf(e.id);
      expect(contacts.map((c) => [c.uri, c.cseq])).toEqual([[uri, 2]]);
      expect(contacts[0]?.expires).toBeGreaterThanOrEqual(3595);
    });

    it("answers OPTIONS with 200", async () => {
      const r = await sipp("options.xml", t, {});
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([200]);
      expect(r.received[0]?.transport).toBe(T);
      expect(r.received[0]?.headers("Allow")[0]).toContain("REGISTER");
    });

    it("ends an extension's bindings at once when the extension is deleted, and its credentials stop working", async () => {
      const e = await newExtension();
      const reg = await sipp("register.xml", t, { user: e.ext, pass: e.password });
      expect(reg.exitCode, describeRun(reg)).toBe(0);
      expect(await contactsOf(e.id)).toHaveLength(1);
      expect((await api.del(`/v1.0/extensions/${e.id}`)).status).toBe(200);
      expect(await contactsOf(e.id)).toEqual([]);
      const r = await sipp("register-rejected.xml", t, { user: e.ext, pass: e.password });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 401]);
      expect(await contactsOf(e.id)).toEqual([]);
    });

    it("empties the contact list on DELETE /contacts", async () => {
      const e = await newExtension();
      for (let i = 0; i < 2; i++) {
        const r = await sipp("register.xml", t, { user: e.ext, pass: e.password });
        expect(r.exitCode, describeRun(r)).toBe(0);
      }
      const before = await contactsOf(e.id);
      expect(before).toHaveLength(2);
      const del = await api.del<{ result: Contact[] }>(`/v1.0/extensions/${e.id}/contacts`);
      expect(del.status).toBe(200);
      expect(del.body.result.map((c) => c.uri).sort()).toEqual(before.map((c) => c.uri).sort());
      expect(await contactsOf(e.id)).toEqual([]);
    });

    it("rejects the old password and accepts the new one after a password change", async () => {
      const e = await newExtension();
      const fresh = h.secret(`New-${randomBytes(6).toString("hex")}`);
      expect((await api.put(`/v1.0/extensions/${e.id}`, { password: fresh })).status).toBe(200);
      const old = await sipp("register-rejected.xml", t, { user: e.ext, pass: e.password });
      expect(old.exitCode, describeRun(old)).toBe(0);
      expect(statuses(old)).toEqual([401, 401]);
      expect(await contactsOf(e.id)).toEqual([]);
      const r = await sipp("register.xml", t, { user: e.ext, pass: fresh });
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(statuses(r)).toEqual([401, 200]);
      expect(await contactsOf(e.id)).toHaveLength(1);
    });
  });

  // Retransmissions only exist on UDP: over TCP the transaction ends with its final response
  // (RFC 3261 §17.2.2, Timer J = 0) and a client never resends a request on a reliable transport.
  it("answers a retransmitted REGISTER (same branch) with the very same 200, without processing it again", async () => {
    const e = await newExtension();
    // -nr: SIPp would take the identical second 200 for a retransmission of the first and
    // resend its last REGISTER forever; the registrar must answer every copy all the same.
    const r = await sipp("retransmit.xml", "u1", { user: e.ext, pass: e.password }, { extraArgs: ["-nr"] });
    expect(r.exitCode, describeRun(r)).toBe(0);
    expect(statuses(r)).toEqual([401, 200, 200]);
    const [, a, b] = r.sent as [TraceMessage, TraceMessage, TraceMessage];
    expect(a.headers("Via")).toEqual(b.headers("Via"));
    // SIPp recomputes the digest (nc=00000002) for the copy, so a registrar that processed it
    // again would answer with a new To tag and Date: the replay must be byte for byte the first.
    expect(a.headers("Authorization")[0]).not.toBe(b.headers("Authorization")[0]);
    const [, first, second] = r.received as [TraceMessage, TraceMessage, TraceMessage];
    expect(second.raw).toBe(first.raw);
    expect(h.server.sip.stats.retransmissions).toBeGreaterThanOrEqual(1);
  });

  it("answers a byte-identical retransmission (same nonce-count) with the same 200, not a replay 401", async () => {
    const e = await newExtension();
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    const inbox: string[] = [];
    sock.on("message", (m) => inbox.push(m.toString("latin1")));
    try {
      const port = (sock.address() as { port: number }).port;
      const callId = `${randomBytes(8).toString("hex")}@127.0.0.1`;
      const request = (cseq: number, branch: string, auth?: string) =>
        [
          `REGISTER sip:${domain} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch};rport`,
          "Max-Forwards: 70",
          `From: <sip:${e.ext}@${domain}>;tag=raw1`,
          `To: <sip:${e.ext}@${domain}>`,
          `Call-ID: ${callId}`,
          `CSeq: ${cseq} REGISTER`,
          `Contact: <sip:${e.ext}@127.0.0.1:${port}>`,
          "Expires: 600",
          ...(auth ? [`Authorization: ${auth}`] : []),
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n");
      const send = async (text: string, expected: number) => {
        sock.send(Buffer.from(text, "latin1"), h.server.sip.port, "127.0.0.1");
        await waitFor("the registrar's answer", () => inbox.length >= expected);
        return inbox[expected - 1] as string;
      };
      const challenge = await send(request(1, "z9hG4bK-raw-1"), 1);
      const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? "";
      const ha1 = createHash("md5").update(`${e.ext}:${domain}:${e.password}`).digest("hex");
      const digest = {
        username: e.ext,
        realm: domain,
        nonce,
        uri: `sip:${domain}`,
        algorithm: "MD5" as const,
        qop: "auth",
        nc: "00000001",
        cnonce: "0a4f113b",
        response: "",
      };
      const response = expectedResponse(ha1, "REGISTER", digest);
      const auth = `Digest username="${e.ext}", realm="${domain}", nonce="${nonce}", uri="sip:${domain}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b"`;
      const withAuth = request(2, "z9hG4bK-raw-2", auth);
      const ok = await send(withAuth, 2);
      const again = await send(withAuth, 3);
      expect(ok).toMatch(/^SIP\/2\.0 200 OK\r\n/);
      expect(again).toBe(ok);
      // The same credentials in a new transaction are a replay of nonce-count 1: challenged.
      const replay = await send(withAuth.replace("z9hG4bK-raw-2", "z9hG4bK-raw-3"), 4);
      expect(replay).toMatch(/^SIP\/2\.0 401 Unauthorized\r\n/);
      expect((await contactsOf(e.id)).map((c) => c.uri)).toEqual([`sip:${e.ext}@127.0.0.1:${port}`]);
    } finally {
      sock.close();
    }
  });

  it("answers a double-CRLF keep-alive over TCP with a single CRLF and keeps the connection usable", async () => {
    const sock = connect(h.server.sip.port, "127.0.0.1");
    let got = "";
    sock.on("data", (d: Buffer) => {
      got += d.toString("latin1");
    });
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once("connect", resolve);
        sock.once("error", reject);
      });
      sock.write("\r\n\r\n");
      await waitFor("the pong", () => got.length > 0);
      await new Promise((r) => setTimeout(r, 300)); // anything more would show up now
      expect(got).toBe("\r\n");
      got = "";
      const { port } = sock.address() as { port: number };
      sock.write(
        [
          `OPTIONS sip:${domain} SIP/2.0`,
          `Via: SIP/2.0/TCP 127.0.0.1:${port};branch=z9hG4bK-ka-${randomBytes(4).toString("hex")}`,
          "Max-Forwards: 70",
          `From: <sip:ping@127.0.0.1>;tag=ka`,
          `To: <sip:${domain}>`,
          "Call-ID: keepalive-check",
          "CSeq: 1 OPTIONS",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n"),
      );
      await waitFor("the OPTIONS answer", () => got.includes("\r\n\r\n"));
      expect(got).toMatch(/^SIP\/2\.0 200 OK\r\n/);
    } finally {
      sock.destroy();
    }
  });

  it("stores no password in clear, in the database or the logs", async () => {
    await h.assertNoPlaintextSecrets();
  });

  it("keeps bindings across a restart", async () => {
    const e = await newExtension();
    for (const [, t] of TRANSPORTS) {
      const r = await sipp("register.xml", t, { user: e.ext, pass: e.password });
      expect(r.exitCode, describeRun(r)).toBe(0);
    }
    const before = await contactsOf(e.id);
    expect(before.map((c) => c.transport).sort()).toEqual(["TCP", "UDP"]);
    await h.close();
    h = await startHarness(kind, { dataDir: h.dataDir, databaseUrl: h.databaseUrl });
    // The login token stays valid: the JWT key lives in the data dir.
    api = client(h.url, token);
    const after = await contactsOf(e.id);
    const strip = (c: Contact) => ({ ...c, expires: 0 });
    expect(after.map(strip)).toEqual(before.map(strip));
    // And the registrar on its new port still knows the password.
    const again = await sipp("register.xml", "u1", { user: e.ext, pass: e.password });
    expect(again.exitCode, describeRun(again)).toBe(0);
    expect(await contactsOf(e.id)).toHaveLength(3);
  });
});

describe.each(DATABASES)("SIPp and an expired nonce on %s", (kind) => {
  let h: Harness;
  let api: Client;
  const system = systemClock();
  let offset = 0;

  beforeAll(async () => {
    h = await startHarness(kind, { clock: () => system() + offset });
    api = client(h.url, h.admin.token);
  });
  afterAll(async () => {
    killChildren();
    await stopHarness(h);
  });

  it.each(TRANSPORTS)("re-challenges an old nonce with stale=true over %s, then registers", async (T, t) => {
    const ext = `stale-${T.toLowerCase()}`;
    const password = h.secret(`Pw-${randomBytes(6).toString("hex")}`);
    const created = await api.post("/v1.0/extensions", { extension: ext, password });
    expect(created.status).toBe(200);
    const domain = h.admin.domainName;

    const seen = h.server.sip.stats.requests;
    const run = runSipp({
      scenario: "stale-nonce.xml",
      port: h.server.sip.port,
      transport: t,
      keys: { user: ext, pass: password, domain, ua: UA, expires: 3600 },
    });
    // The first REGISTER has been challenged; SIPp now pauses 3 s: the nonce grows old meanwhile.
    await waitFor("the first REGISTER", () => h.server.sip.stats.requests > seen, 8000);
    offset += NONCE_LIFETIME_US + 60 * 1_000_000;
    expect(h.server.sip.stats.requests).toBe(seen + 1);
    const r = await run;

    expect(r.exitCode, describeRun(r)).toBe(0);
    expect(statuses(r)).toEqual([401, 401, 200]);
    const [fresh, stale, ok] = r.received as [TraceMessage, TraceMessage, TraceMessage];
    expect(fresh.headers("WWW-Authenticate")[0]).toMatch(challengeRe(domain));
    expect(stale.headers("WWW-Authenticate")[0]).toMatch(challengeRe(domain, true));
    // The old nonce went back first, the one of the stale challenge then.
    const nonceRe = /(?<![a-z])nonce="([^"]+)"/;
    const sentNonce = (m: TraceMessage | undefined) =>
      nonceRe.exec(m?.headers("Authorization")[0] ?? "")?.[1];
    const offered = (m: TraceMessage) => nonceRe.exec(m.headers("WWW-Authenticate")[0] ?? "")?.[1];
    expect(sentNonce(r.sent[1])).toBe(offered(fresh));
    expect(sentNonce(r.sent[2])).toBe(offered(stale));
    expect(offered(stale)).not.toBe(offered(fresh));
    // Granted 3600 s as of the server's (moved) clock.
    const granted = [...boundContacts(ok).values()];
    expect(granted).toHaveLength(1);
    expect(granted[0]).toBeGreaterThanOrEqual(3595);
    expect(granted[0]).toBeLessThanOrEqual(3600);
    const contacts = await api.get<{ result: Contact[] }>(`/v1.0/extensions/${created.body.id}/contacts`);
    expect(contacts.body.result.map((c) => [c.transport, c.cseq])).toEqual([[T, 3]]);
  });
});
