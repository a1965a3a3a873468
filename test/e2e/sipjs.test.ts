// A real SIP user agent library (SIP.js, from npm) registering against the running server over
// SIP.js's own WebSocket transport (RFC 7118) to `ws://…/sip`, exactly as in a browser
// (./sipjs-ws.ts gives Node the WebSocket SIP.js expects). Its Via host and Contact host are
// random `.invalid` names and its Contact says `;transport=ws`; the registrar binds it to the
// WebSocket it came over and records where the request really came from (RFC 3581).
import { randomBytes } from "node:crypto";
import { Registerer, RegistererState, UserAgent } from "sip.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../src/contract/contact.js";
import { digestHa1 } from "../../src/domain/secrets.js";
import { expectedResponse } from "../../src/sip/auth/digest.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { until } from "../sip/raw-sip.js";
import { header, startLine } from "./sipjs-phone.js";
import { installWebSocket, type RecordingWebSocket, wireOf } from "./sipjs-ws.js";

/** Digest parameters of an Authorization header value (quoted or not). */
function digestParams(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of value.replace(/^Digest\s+/i, "").matchAll(/([a-z-]+)=(?:"([^"]*)"|([^,\s]+))/gi)) {
    out.set((m[1] ?? "").toLowerCase(), m[2] ?? m[3] ?? "");
  }
  return out;
}

installWebSocket();

describe.each(DATABASES)("SIP.js registering over WebSocket on %s", (kind) => {
  let h: Harness;
  let api: Client;
  let extId: string;
  let username: string;
  let password: string;
  const agents: UserAgent[] = [];

  /** A started SIP.js user agent for the extension, connected to the server's `ws://…/sip`. */
  async function agent(
    pw: string,
    more: { forceRport?: boolean } = {},
  ): Promise<{ ua: UserAgent; transport: RecordingWebSocket }> {
    const uri = UserAgent.makeURI(`sip:${username}@${h.admin.domainName}`);
    if (!uri) throw new Error("SIP.js could not make the AOR URI");
    const ua = new UserAgent({
      uri,
      authorizationUsername: username,
      authorizationPassword: pw,
      transportOptions: { server: `ws://127.0.0.1:${h.server.httpPort}/sip` },
      forceRport: more.forceRport ?? false,
      logBuiltinEnabled: false,
      logLevel: "error",
    });
    agents.push(ua);
    await ua.start();
    return { ua, transport: wireOf(ua) };
  }

  const contacts = async () => {
    const res = await api.get<{ result: Contact[] }>(`/v1.0/extensions/${extId}/contacts`);
    expect(res.status).toBe(200);
    return res.body.result;
  };

  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
    password = h.secret(`Sipjs-${randomBytes(6).toString("hex")}`);
    const created = await api.post("/v1.0/extensions", { name: "sipjs", extension: "2001", password });
    expect(created.status).toBe(200);
    extId = created.body.id as string;
    username = created.body.username as string;
  });

  afterEach(async () => {
    // Each test's user agents go with it (stop() unregisters what is still registered).
    for (const ua of agents.splice(0)) await ua.stop().catch(() => {});
    await api.del(`/v1.0/extensions/${extId}/contacts`);
  });

  afterAll(async () => {
    await stopHarness(h);
  });

  it("registers with an MD5 digest after a 401 and the contact shows over the API as WS with SIP.js's user agent", async () => {
    const { ua, transport } = await agent(password);
    const registerer = new Registerer(ua, { expires: 600 });
    await registerer.register();
    await until("the registration", () => registerer.state === RegistererState.Registered);

    // On the wire: REGISTER, 401 with the MD5 challenge, REGISTER with credentials, 200.
    const [first, second] = transport.sent.filter((m) => m.startsWith("REGISTER "));
    const [challenge, accepted] = transport.received;
    expect(first && second && challenge && accepted).toBeTruthy();
    if (!first || !second || !challenge || !accepted) return;
    expect(header(first, "Via")).toMatch(/^SIP\/2\.0\/WS [a-z0-9]+\.invalid;branch=z9hG4bK/);
    expect(header(first, "Contact")).toMatch(/\.invalid;transport=ws>/);
    expect(header(first, "Authorization")).toBeUndefined();
    expect(startLine(challenge)).toBe("SIP/2.0 401 Unauthorized");
    expect(header(challenge, "WWW-Authenticate")).toMatch(
      new RegExp(`^Digest realm="${h.admin.domainName}", nonce="[^"]+", qop="auth", algorithm=MD5`),
    );
    // The received parameter records the real source of a Via naming an .invalid host.
    expect(header(challenge, "Via")).toContain(";received=127.0.0.1");
    expect(startLine(accepted)).toBe("SIP/2.0 200 OK");

    // SIP.js's digest response is the one the registrar computes from the stored HA1.
    const auth = digestParams(header(second, "Authorization") ?? "");
    expect(auth.get("username")).toBe(username);
    expect(auth.get("realm")).toBe(h.admin.domainName);
    expect(auth.get("algorithm") ?? "MD5").toBe("MD5");
    const ha1 = digestHa1(username, h.admin.domainName, password).md5;
    expect(auth.get("response")).toBe(
      expectedResponse(ha1, "REGISTER", {
        username,
        realm: h.admin.domainName,
        nonce: auth.get("nonce") ?? "",
        uri: auth.get("uri") ?? "",
        response: "",
        algorithm: "MD5",
        qop: auth.get("qop"),
        nc: auth.get("nc"),
        cnonce: auth.get("cnonce"),
      }),
    );

    // The 200 lists SIP.js's own contact with the granted lifetime.
    const sentContact = /<([^>]+)>/.exec(header(second, "Contact") ?? "")?.[1];
    expect(sentContact).toBeDefined();
    expect(header(accepted, "Contact")).toMatch(/;expires=(600|599)\b/);
    expect(registerer.contacts.some((c) => c.includes(sentContact ?? "?"))).toBe(true);

    const list = await contacts();
    expect(list).toHaveLength(1);
    const c = list[0] as Contact;
    expect(c.uri).toBe(sentContact);
    expect(c.transport).toBe("WS");
    expect(c.source).toBe(`127.0.0.1:${transport.localPort}`);
    expect(c.user_agent).toBe(header(second, "User-Agent"));
    expect(c.user_agent).toMatch(/^SIP\.js\/\d+\.\d+\.\d+/);
    expect(c.call_id).toBe(header(second, "Call-ID"));
    expect(c.cseq).toBe(Number.parseInt(header(second, "CSeq") ?? "", 10));
    expect(c.expires).toBeGreaterThan(590);
    expect(c.expires).toBeLessThanOrEqual(600);
  });

  it("unregisters and the contact is gone from the API", async () => {
    const { ua, transport } = await agent(password);
    const registerer = new Registerer(ua, { expires: 300 });
    await registerer.register();
    await until("the registration", () => registerer.state === RegistererState.Registered);
    expect(await contacts()).toHaveLength(1);

    await registerer.unregister();
    await until("the unregistration", () => registerer.state === RegistererState.Unregistered);
    // SIP.js sends its contact with expires=0. It reuses the last nonce with the same nonce-count
    // (nc=00000001), which replay protection refuses with a fresh challenge; it then answers that.
    const last = transport.sent.filter((m) => m.startsWith("REGISTER ")).at(-1) ?? "";
    expect(header(last, "Contact")).toMatch(/;expires=0$/);
    expect(startLine(transport.received.at(-1) ?? "")).toBe("SIP/2.0 200 OK");
    expect(header(transport.received.at(-1) ?? "", "Contact")).toBeUndefined();
    expect(await contacts()).toEqual([]);
  });

  it("answers rport with the WebSocket's real source address and port", async () => {
    const { ua, transport } = await agent(password, { forceRport: true });
    const registerer = new Registerer(ua, { expires: 120 });
    await registerer.register();
    await until("the registration", () => registerer.state === RegistererState.Registered);
    const sent = transport.sent.filter((m) => m.startsWith("REGISTER ")).at(-1) ?? "";
    expect(header(sent, "Via")).toMatch(/^SIP\/2\.0\/WS [a-z0-9]+\.invalid;branch=z9hG4bK\w+;rport$/);
    // RFC 3581: the answer names the real source address and port.
    const ok = transport.received.at(-1) ?? "";
    expect(startLine(ok)).toBe("SIP/2.0 200 OK");
    expect(header(ok, "Via")).toContain(`;rport=${transport.localPort}`);
    expect(header(ok, "Via")).toContain(";received=127.0.0.1");
    const [c] = await contacts();
    expect(c?.transport).toBe("WS");
    expect(c?.source).toBe(`127.0.0.1:${transport.localPort}`);
    expect(c?.expires).toBeLessThanOrEqual(120);
  });

  it("rejects a registration with a wrong password and binds nothing", async () => {
    const { ua, transport } = await agent(`${password}-wrong`);
    const registerer = new Registerer(ua, { expires: 300 });
    let rejectedWith = 0;
    await registerer.register({
      requestDelegate: {
        onReject: (response) => {
          rejectedWith = response.message.statusCode ?? -1;
        },
      },
    });
    await until("the rejection", () => rejectedWith !== 0);
    expect(rejectedWith).toBe(401);
    expect(registerer.state).not.toBe(RegistererState.Registered);
    // SIP.js answered the challenge once, with credentials, and was challenged again.
    const registers = transport.sent.filter((m) => m.startsWith("REGISTER "));
    expect(registers).toHaveLength(2);
    expect(header(registers[1] ?? "", "Authorization")).toMatch(/^Digest /);
    expect(transport.received.map(startLine)).toEqual([
      "SIP/2.0 401 Unauthorized",
      "SIP/2.0 401 Unauthorized",
    ]);
    expect(await contacts()).toEqual([]);
  });
});
