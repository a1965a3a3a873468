// SIP over TLS and over WebSocket (CONTRACT §10, RFC 3261 §26.2, RFC 7118) with the development
// certificate (SIPEXT_TLS_SELF_SIGNED=true): the certificate and its fingerprint, HTTPS serving
// the API, the WebSocket handshake, registrations over TLS, WS and WSS (contacts API transport),
// calls crossing transports with one Record-Route per side, force-unregister, sips: only over
// secure transports, a renewed certificate taken without a restart, and baresip over TLS.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { generate } from "selfsigned";
import { describe, expect, it } from "vitest";
import { DATABASES, removeDir, startHarness, stopHarness } from "../helpers/harness.js";
import { token } from "../sip/raw-sip.js";
import { startBaresip } from "./baresip.js";
import { type Ext, phoneSuite } from "./phones.js";
import { answerTo, firstLine, headerValues, RawPhone, tlsChannel, wsChannel } from "./raw-phone.js";

const TLS_ENV = { SIPEXT_TLS_SELF_SIGNED: "true", SIPEXT_SIP_TLS_PORT: "0", SIPEXT_HTTPS_PORT: "0" };
const isInvite = (m: string) => m.startsWith("INVITE ");
const isBye = (m: string) => m.startsWith("BYE ");

/** The certificate a TLS server at 127.0.0.1:port presents. */
function peerCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      cert ? resolve(cert) : reject(new Error("no certificate"));
    });
    socket.once("error", reject);
  });
}

/** What the server answers to an HTTP upgrade request, as raw text (first line). */
function upgrade(port: number, path: string, protocol?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(
        [
          `GET ${path} HTTP/1.1`,
          "Host: 127.0.0.1",
          "Upgrade: websocket",
          "Connection: Upgrade",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version: 13",
          ...(protocol ? [`Sec-WebSocket-Protocol: ${protocol}`] : []),
          "",
          "",
        ].join("\r\n"),
      );
    });
    let text = "";
    socket.on("data", (d) => {
      text += d.toString();
      if (text.includes("\r\n\r\n")) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on("error", reject);
  });
}

describe.each(DATABASES)("SIP over TLS and WebSocket on %s", (kind) => {
  const s = phoneSuite(kind, TLS_ENV);
  const ca = () => s.h.server.tlsCertificatePem ?? "";
  const domain = () => s.h.admin.domainName;
  const wsUrl = (secure: boolean) =>
    secure ? `wss://127.0.0.1:${s.h.server.httpsPort}/sip` : `ws://127.0.0.1:${s.h.server.httpPort}/sip`;

  async function phoneOn(e: Ext, transport: "UDP" | "TLS" | "WS" | "WSS"): Promise<RawPhone> {
    const o = { sipPort: s.h.server.sip.port, domain: domain(), ext: e.ext, password: e.password };
    const channel =
      transport === "TLS"
        ? await tlsChannel(s.h.server.sip.tlsPort ?? 0, ca())
        : transport === "UDP"
          ? undefined
          : await wsChannel(wsUrl(transport === "WSS"), ca());
    const p = await RawPhone.open(o, channel);
    s.phones.add({ stop: () => p.close(), log: () => `raw ${transport} phone:\n${p.got.join("\n---\n")}` });
    return p;
  }

  async function registeredOn(e: Ext, transport: "UDP" | "TLS" | "WS" | "WSS"): Promise<RawPhone> {
    const p = await phoneOn(e, transport);
    const ok = await p.registerWithDigest();
    expect(firstLine(ok), ok).toBe("SIP/2.0 200 OK");
    return p;
  }

  it("serves one certificate on SIP/TLS and HTTPS, the one whose fingerprint it printed", async () => {
    expect(s.h.server.tlsFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(s.h.logs()).toContain(`TLS certificate SHA-256 fingerprint ${s.h.server.tlsFingerprint}`);
    for (const port of [s.h.server.sip.tlsPort ?? 0, s.h.server.httpsPort ?? 0]) {
      expect((await peerCertificate(port)).fingerprint256).toBe(s.h.server.tlsFingerprint);
    }
  });

  it("serves the API over HTTPS too", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: s.h.server.httpsPort,
          path: "/v1.0/me",
          ca: ca(),
          servername: "localhost",
          headers: { authorization: `Bearer ${s.h.admin.token}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(200);
  });

  it("refuses a WebSocket without the sip subprotocol, and upgrades on other paths", async () => {
    expect(firstLine(await upgrade(s.h.server.httpPort, "/sip"))).toBe("HTTP/1.1 400 Bad Request");
    expect(firstLine(await upgrade(s.h.server.httpPort, "/sip", "chat"))).toBe("HTTP/1.1 400 Bad Request");
    expect(firstLine(await upgrade(s.h.server.httpPort, "/other", "sip"))).toBe("HTTP/1.1 404 Not Found");
    const ok = await upgrade(s.h.server.httpPort, "/sip", "chat, sip");
    expect(firstLine(ok)).toBe("HTTP/1.1 101 Switching Protocols");
    expect(ok).toMatch(/\r\nSec-WebSocket-Protocol: sip\r\n/i);
  });

  it.each(["TLS", "WS", "WSS"] as const)(
    "registers over %s, and the contacts API says so",
    async (transport) => {
      const e = await s.extension("t");
      const p = await registeredOn(e, transport);
      const contacts = await s.contactsOf(e.id);
      expect(contacts.map((c) => [c.uri, c.transport, c.source])).toEqual([
        [p.contact, transport, `127.0.0.1:${p.port}`],
      ]);
    },
  );

  it("answers a malformed message over WebSocket with 400 and keeps the connection", async () => {
    const e = await s.extension("t");
    const p = await phoneOn(e, "WS");
    p.send(
      [
        `OPTIONS sip:${domain()} SIP/2.0`,
        `Via: SIP/2.0/WS 127.0.0.1:${p.port};branch=z9hG4bK-${token()}`,
        "From: <sip:a@b>;tag=1",
        "To: <sip:a@b>",
        "Call-ID: ws-bad",
        "CSeq: nonsense",
        "",
        "",
      ].join("\r\n"),
    );
    expect(firstLine(await p.next((m) => m.startsWith("SIP/2.0 400 ")))).toMatch(
      /^SIP\/2\.0 400 Bad Request \(/,
    );
    p.send("\u0000\u0001 not SIP at all");
    // Still served: a registration goes through on the same connection.
    expect(firstLine(await p.registerWithDigest())).toBe("SIP/2.0 200 OK");
  });

  it.each([
    ["UDP", "WS"],
    ["WS", "TLS"],
    ["TLS", "WSS"],
  ] as const)(
    "a call from %s to %s: Record-Route once per side, the BYE comes back over the callee's flow",
    async (from, to) => {
      const [a, b] = [await s.extension("c"), await s.extension("c")];
      const callee = await registeredOn(b, to);
      const caller = await phoneOn(a, from);
      const uri = `sip:direct.${b.hash}@${s.h.config.directDomain}`;
      caller.send(
        [
          `INVITE ${uri} SIP/2.0`,
          `Via: SIP/2.0/${caller.transport} 127.0.0.1:${caller.port};branch=z9hG4bK-${token()};rport`,
          "Max-Forwards: 70",
          `From: <sip:caller@example.net>;tag=c1`,
          `To: <${uri}>`,
          `Call-ID: ${token()}@x`,
          "CSeq: 1 INVITE",
          `Contact: <${caller.contact}>`,
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n"),
      );
      const invite = await callee.next(isInvite);
      expect(headerValues(invite, "Via")[0]).toMatch(new RegExp(`^SIP/2\\.0/${to} `));
      const rr = headerValues(invite, "Record-Route");
      expect(rr.map((r) => /;transport=(\w+)/.exec(r)?.[1])).toEqual([to.toLowerCase(), from.toLowerCase()]);
      callee.send(answerTo(invite, "200 OK", "cal", [`Contact: <${callee.contact}>`]));
      const ok = await caller.next((m) => m.startsWith("SIP/2.0 200 "));
      const routes = headerValues(ok, "Record-Route").reverse();
      const to200 = /\r\nTo: ([^\r]+)/.exec(ok)?.[1] ?? "";
      const inDialog = (method: string, seq: number) =>
        [
          `${method} ${callee.contact} SIP/2.0`,
          `Via: SIP/2.0/${caller.transport} 127.0.0.1:${caller.port};branch=z9hG4bK-${token()};rport`,
          ...routes.map((r) => `Route: ${r}`),
          "Max-Forwards: 70",
          "From: <sip:caller@example.net>;tag=c1",
          `To: ${to200}`,
          `Call-ID: ${headerValues(ok, "Call-ID")[0]}`,
          `CSeq: ${seq} ${method}`,
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n");
      caller.send(inDialog("ACK", 1));
      caller.send(inDialog("BYE", 2));
      const bye = await callee.next(isBye);
      callee.send(answerTo(bye, "200 OK"));
      expect(firstLine(await caller.next((m) => m.startsWith("SIP/2.0 200 ") && m.includes("2 BYE")))).toBe(
        "SIP/2.0 200 OK",
      );
    },
  );

  it("force-unregister ends a WebSocket binding: a call then gets 480", async () => {
    const e = await s.extension("f");
    await registeredOn(e, "WS");
    expect((await s.api.del(`/v1.0/extensions/${e.id}/contacts`)).status).toBe(200);
    expect(await s.contactsOf(e.id)).toEqual([]);
    const caller = await phoneOn(e, "UDP");
    const uri = `sip:direct.${e.hash}@${s.h.config.directDomain}`;
    caller.send(
      [
        `INVITE ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-${token()};rport`,
        "Max-Forwards: 70",
        "From: <sip:c@example.net>;tag=f",
        `To: <${uri}>`,
        "Call-ID: fu@x",
        "CSeq: 1 INVITE",
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n"),
    );
    expect(firstLine(await caller.next((m) => m.startsWith("SIP/2.0 ")))).toBe(
      "SIP/2.0 480 Temporarily Unavailable",
    );
  });

  it("accepts a sips: Request-URI over TLS only (416 over UDP)", async () => {
    const e = await s.extension("s");
    const callee = await registeredOn(e, "TLS");
    const sips = `sips:direct.${e.hash}@${s.h.config.directDomain}`;
    const over = async (transport: "UDP" | "TLS") => {
      const caller = await phoneOn(e, transport);
      caller.send(
        [
          `INVITE ${sips} SIP/2.0`,
          `Via: SIP/2.0/${transport} 127.0.0.1:${caller.port};branch=z9hG4bK-${token()};rport`,
          "Max-Forwards: 70",
          "From: <sip:c@example.net>;tag=s",
          `To: <${sips}>`,
          `Call-ID: ${token()}@sips`,
          "CSeq: 1 INVITE",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n"),
      );
      return firstLine(await caller.next((m) => m.startsWith("SIP/2.0 ") && !m.startsWith("SIP/2.0 100 ")));
    };
    expect(await over("UDP")).toBe("SIP/2.0 416 Unsupported URI Scheme (sips: needs TLS or WSS)");
    // Over TLS it is routed: the device registered over TLS gets the INVITE (it says nothing).
    const reached = callee.next(isInvite);
    void over("TLS").catch(() => {});
    expect(firstLine(await reached)).toMatch(/^INVITE sip:/);
  });

  it("baresip registers over TLS (;transport=tls, the certificate trusted) and calls a UDP baresip", async () => {
    const caFile = join(mkdtempSync(join(tmpdir(), "sipext-ca-")), "sipext.pem");
    writeFileSync(caFile, ca());
    const [a, b] = [await s.extension("b"), await s.extension("b")];
    const account = (e: Ext) => ({ ext: e.ext, password: e.password, domain: domain() });
    const caller = await startBaresip(s.phones, {
      ...account(a),
      sipPort: s.h.server.sip.tlsPort ?? 0,
      transport: "tls",
      caFile,
      label: "tls caller",
    });
    const callee = await startBaresip(s.phones, {
      ...account(b),
      sipPort: s.h.server.sip.port,
      transport: "udp",
      answermode: "auto",
      label: "udp callee",
    });
    await s.phones.explain(() => s.registered(a, b));
    expect((await s.contactsOf(a.id)).map((c) => c.transport)).toEqual(["TLS"]);
    await caller.command(`dial sip:${b.ext}@${domain()}`);
    await s.phones.explain(async () => {
      await caller.event("CALL_ESTABLISHED");
      await callee.event("CALL_ESTABLISHED");
    });
    await caller.command("hangup");
    await s.phones.explain(() => callee.event("CALL_CLOSED"));
    removeDir(join(caFile, ".."));
  });
});

describe("a renewed certificate (SIGHUP) is taken without a restart", () => {
  it("new TLS and HTTPS connections see the new certificate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sipext-certs-"));
    const make = async (cn: string) => {
      const pems = await generate([{ name: "commonName", value: cn }], {
        keyType: "ec",
        algorithm: "sha256",
      });
      writeFileSync(join(dir, "cert.pem"), pems.cert);
      writeFileSync(join(dir, "key.pem"), pems.private);
      return new X509Certificate(pems.cert).fingerprint256;
    };
    const first = await make("first.example");
    const h = await startHarness("sqlite", {
      env: {
        SIPEXT_TLS_CERT_FILE: join(dir, "cert.pem"),
        SIPEXT_TLS_KEY_FILE: join(dir, "key.pem"),
        SIPEXT_SIP_TLS_PORT: "0",
        SIPEXT_HTTPS_PORT: "0",
      },
    });
    try {
      expect(h.server.tlsFingerprint).toBe(first);
      expect((await peerCertificate(h.server.sip.tlsPort ?? 0)).fingerprint256).toBe(first);
      const second = await make("second.example");
      await h.server.reloadTls();
      expect((await peerCertificate(h.server.sip.tlsPort ?? 0)).fingerprint256).toBe(second);
      expect((await peerCertificate(h.server.httpsPort ?? 0)).fingerprint256).toBe(second);
    } finally {
      await stopHarness(h);
      removeDir(dir);
    }
  });
});
