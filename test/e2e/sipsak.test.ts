// sipsak 0.9.8 (Debian `sipsak`) against sipext: OPTIONS pings over UDP and TCP; its usrloc mode
// (-U), which registers with digest over UDP or TCP and unregisters with -x 0; and what it does
// through the proxy: a MESSAGE sent from a file (-f) to an extension, answered by the phone
// registered there (SIP.js) after sipext's 407, an OPTIONS to an extension, and its traceroute
// mode (-T). sipsak places no calls: see INTEROP.md.
//
// What sipsak 0.9.8.1 does that shapes this suite (seen in its -vvv traces):
// - It resolves the domain of the URI itself, even with an outbound proxy (-p), and gives up with
//   "is unresolvable" otherwise: the customer's domain (`<customer uuid>.registrar.localhost`)
//   must resolve, so the suite adds an /etc/hosts line for it and removes exactly that line
//   afterwards (./hosts.ts). Where /etc/hosts cannot be written (not root) the cases that need the
//   name are skipped; the OPTIONS pings go to 127.0.0.1 and need no name.
// - In usrloc mode it takes the digest username from the URI up to and including the "@"
//   (`username="100@"`), whatever the length of the domain (also with a short
//   SIPEXT_REGISTRAR_DOMAIN): the registrar rightly refuses that name, which is not the extension.
//   Passing it with -u fixes the digest; nothing else is needed.
// - It writes the URI's port into a 4-character field: `sip:x@host:59741` goes out as
//   `sip:x@host:5974` in the Request-URI, From and To (it still sends to 59741). The registrar
//   names the customer by the To host, not the port, so this is harmless.
// - Its message mode (-M) and invite mode (-I) crash (SIGSEGV) before sending anything: create_msg()
//   writes the reply it expects into a buffer it never allocated. A MESSAGE is therefore sent from a
//   file (-f), which is how sipsak shoots any request it does not build itself.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../src/contract/contact.js";
import { DATABASES } from "../helpers/harness.js";
import { until } from "../sip/raw-sip.js";
import { addHostsEntry, removeHostsEntry } from "./hosts.js";
import { type Ext, phoneSuite } from "./phones.js";
import { SipjsPhone } from "./sipjs-phone.js";
import { randomPort, spawnBounded } from "./sipp.js";

interface SipsakRun {
  code: number | null;
  output: string;
  localPort: number;
}

/** Runs sipsak (bounded to 15 s) from a random local port, retried when the port was taken. */
async function sipsak(args: string[]): Promise<SipsakRun> {
  for (let attempt = 1; ; attempt++) {
    const localPort = randomPort();
    const { code, output } = await spawnBounded("sipsak", ["-l", String(localPort), ...args], 15_000).done;
    if (!/address already in use/i.test(output) || attempt >= 5) return { code, output, localPort };
  }
}

/** The responses sipsak printed (-vv), first lines only. */
const replies = (out: string) => [...out.matchAll(/^SIP\/2\.0 (\d{3}) [^\r\n]*/gm)].map((m) => Number(m[1]));

describe.each(DATABASES)("sipsak against sipext on %s", (kind) => {
  const s = phoneSuite(kind);
  let domain: string;
  let hostsLine: string | undefined;

  beforeAll(() => {
    domain = s.h.admin.domainName;
    hostsLine = addHostsEntry(domain, "sipsak");
    return () => removeHostsEntry(hostsLine);
  });

  const needsName = (ctx: { skip: (note: string) => void }) => {
    if (!hostsLine) ctx.skip("/etc/hosts is not writable: sipsak cannot resolve the customer's domain");
  };
  const target = (user: string) => `sip:${user}@${domain}:${s.h.server.sip.port}`;
  const contactsOf = (id: string): Promise<Contact[]> => s.contactsOf(id);
  /** Runs sipsak's usrloc mode for an extension: -U, digest username -u, password -a, -x expires. */
  const usrloc = (ext: string, password: string, expires: string, more: string[] = []) =>
    sipsak(["-vvv", ...more, "-U", "-s", target(ext), "-u", ext, "-a", password, "-x", expires]);

  it("answers sipsak's OPTIONS ping over UDP with 200", async () => {
    const r = await sipsak(["-vv", "-s", `sip:ping@127.0.0.1:${s.h.server.sip.port}`]);
    expect(r.code, r.output).toBe(0);
    expect(replies(r.output)).toEqual([200]);
    // The methods this node handles: its own (REGISTER, OPTIONS) and those it proxies for calls.
    expect(r.output).toMatch(/^Allow: REGISTER, OPTIONS, INVITE, ACK, CANCEL, BYE\b.*\r?$/m);
  });

  it("answers sipsak's OPTIONS ping over TCP with 200", async () => {
    const r = await sipsak(["-vv", "-E", "tcp", "-s", `sip:ping@127.0.0.1:${s.h.server.sip.port}`]);
    expect(r.code, r.output).toBe(0);
    expect(replies(r.output)).toEqual([200]);
  });

  it("registers sipsak with digest in usrloc mode, and the API lists where it really sends from", async (ctx) => {
    needsName(ctx);
    const e = await s.extension("k");
    const r = await usrloc(e.ext, e.password, "3600");
    expect(r.code, r.output).toBe(0);
    expect(replies(r.output)).toEqual([401, 200]);
    expect(r.output).toMatch(
      /^WWW-Authenticate: Digest realm="[^"]+", nonce="[^"]+", qop="auth", algorithm=MD5\r?$/m,
    );
    const contacts = await contactsOf(e.id);
    expect(contacts).toHaveLength(1);
    const c = contacts[0] as Contact;
    expect(c.uri).toBe(`sip:${e.ext}@127.0.0.1:${r.localPort}`);
    expect(c.transport).toBe("UDP");
    expect(c.user_agent).toMatch(/^sipsak 0\.9\./);
    expect(c.expires).toBeGreaterThanOrEqual(3595);
    expect(c.expires).toBeLessThanOrEqual(3600);
    // sipsak sends from another socket than the one its Via and Contact name: the registrar
    // records the address the REGISTER came from (RFC 3581), as its 200 told sipsak in rport.
    const rport = /;rport=(\d+)/.exec(r.output.slice(r.output.lastIndexOf("SIP/2.0 200")))?.[1];
    expect(rport).toBeDefined();
    expect(c.source).toBe(`127.0.0.1:${rport}`);
  });

  it("registers sipsak over TCP (-E tcp), recorded as TCP from its connection", async (ctx) => {
    needsName(ctx);
    const e = await s.extension("k");
    const r = await usrloc(e.ext, e.password, "600", ["-E", "tcp"]);
    expect(r.code, r.output).toBe(0);
    expect(replies(r.output)).toEqual([401, 200]);
    // sipsak writes its Contact without angle brackets, so its ";transport=TCP" is a parameter of
    // the Contact header field, not of the URI (RFC 3261 §20.10): the stored URI has none.
    expect(r.output).toMatch(/^Contact: sip:\S+;transport=TCP\r?$/m);
    const [c] = await contactsOf(e.id);
    expect(c?.uri).toBe(`sip:${e.ext}@127.0.0.1:${r.localPort}`);
    expect(c?.transport).toBe("TCP");
    expect(c?.source).toBe(`127.0.0.1:${r.localPort}`);
    expect(c?.expires).toBeLessThanOrEqual(600);
  });

  it('refuses the digest username sipsak derives by itself ("<extension>@"), which is not the extension', async (ctx) => {
    needsName(ctx);
    const e = await s.extension("k");
    const r = await sipsak(["-vvv", "-U", "-s", target(e.ext), "-a", e.password, "-x", "3600"]);
    expect(r.output).toContain(`username="${e.ext}@"`);
    expect(r.code, r.output).not.toBe(0);
    expect(replies(r.output)).toEqual([401, 401]);
    expect(await contactsOf(e.id)).toEqual([]);
  });

  it("fails sipsak's registration with a wrong password and binds nothing", async (ctx) => {
    needsName(ctx);
    const e = await s.extension("k");
    const r = await usrloc(e.ext, "Wrong-pass-123", "3600");
    expect(r.code, r.output).not.toBe(0);
    expect(replies(r.output)).toEqual([401, 401]);
    expect(await contactsOf(e.id)).toEqual([]);
  });

  it("removes sipsak's binding when it registers again with -x 0", async (ctx) => {
    needsName(ctx);
    const e = await s.extension("k");
    const port = String(randomPort());
    const reg = await usrloc(e.ext, e.password, "3600", ["-l", port]);
    expect(reg.code, reg.output).toBe(0);
    expect((await contactsOf(e.id)).map((c) => c.uri)).toEqual([`sip:${e.ext}@127.0.0.1:${port}`]);
    const unreg = await usrloc(e.ext, e.password, "0", ["-l", port]);
    expect(unreg.code, unreg.output).toBe(0);
    expect(unreg.output).toMatch(/^Expires: 0\r?$/m);
    expect(await contactsOf(e.id)).toEqual([]);
  });

  /**
   * Runs sipsak with `args` towards extension `to` with sipext as outbound proxy (-p),
   * authenticating as extension `from`; its output is kept with the test's phones, so that a
   * failure shows it with theirs.
   */
  async function throughProxy(to: Ext, from: Ext, args: string[]): Promise<SipsakRun> {
    const proxy = `127.0.0.1:${s.h.server.sip.port}`;
    const r = await sipsak([
      ...args,
      "-s",
      `sip:${to.ext}@${domain}`,
      "-p",
      proxy,
      "-u",
      from.ext,
      "-a",
      from.password,
    ]);
    s.phones.add({ log: () => `--- sipsak's output:\n${r.output}--- end of sipsak`, stop: async () => {} });
    return r;
  }

  /** An extension with a SIP.js phone registered on it, and another extension to send as. */
  async function phoneAndSender() {
    const [to, from] = await Promise.all([s.extension("k"), s.extension("k")]);
    const phone = await SipjsPhone.on(s, to, "receiver");
    return { to, from, phone };
  }

  it("sends a MESSAGE from a file to an extension through the proxy: 407, then the registered phone gets it", async (ctx) => {
    needsName(ctx);
    const { to, from, phone } = await phoneAndSender();
    const text = `hello ${to.ext} from sipsak`;
    const file = join(s.h.dataDir, "message.sip");
    // The request as a user writes it; sipsak adds its Via, fills $…$ in (-G) and answers the
    // challenge with -u/-a.
    writeFileSync(
      file,
      [
        `MESSAGE sip:${to.ext}@${domain} SIP/2.0`,
        `From: <sip:${from.ext}@${domain}>;tag=sipsak$port$`,
        `To: <sip:${to.ext}@${domain}>`,
        "Call-ID: sipsak-message-$port$@$srchost$",
        "CSeq: 1 MESSAGE",
        "Max-Forwards: 70",
        "Content-Type: text/plain",
        `Content-Length: ${text.length}`,
        "",
        text,
      ].join("\n"),
    );
    const r = await throughProxy(to, from, ["-vvv", "-G", "-f", file]);
    await s.phones.explain(async () => {
      expect(r.code, r.output).toBe(0);
      expect(replies(r.output), r.output).toEqual([407, 200]);
      expect(r.output).toMatch(new RegExp(`^Proxy-Authorization: Digest username="${from.ext}"`, "m"));
      await until("the MESSAGE at the phone", () => phone.messages.length > 0);
      expect(phone.messages).toEqual([text]);
      const [m] = phone.wire("received", "MESSAGE ");
      expect(m).toMatch(new RegExp(`^From: <sip:${from.ext}@`, "m"));
      // The 200 sipsak got is the phone's own.
      expect(r.output, r.output).toMatch(/^User-Agent: SIP\.js\//m);
    });
  });

  it("sends an OPTIONS to an extension through the proxy, answered by the registered phone", async (ctx) => {
    needsName(ctx);
    const { to, from, phone } = await phoneAndSender();
    const r = await throughProxy(to, from, ["-vv"]);
    await s.phones.explain(async () => {
      expect(r.code, r.output).toBe(0);
      expect(replies(r.output).at(-1), r.output).toBe(200);
      expect(phone.wire("received", "OPTIONS ")).toHaveLength(1);
    });
  });

  it("traces the route to an extension (-T): sipext answers 483 at Max-Forwards 0, the phone at 1", async (ctx) => {
    needsName(ctx);
    const { to, from, phone } = await phoneAndSender();
    const r = await throughProxy(to, from, ["-vv", "-T"]);
    await s.phones.explain(async () => {
      expect(r.code, r.output).toBe(0);
      // Each hop as sipsak prints it: "Max-Forwards set to N", then "<n>: <warning> (<ms>) <status>"
      // (sipsak numbers the answer to its authenticated retry 0 again).
      expect(r.output, r.output).toMatch(/^Max-Forwards set to 0\n\d+: .*SIP\/2\.0 483 Too Many Hops\r?$/m);
      expect(r.output, r.output).toMatch(/^Max-Forwards set to 1\n(?:.*\n)*?\d+: .*SIP\/2\.0 200 OK\r?$/m);
      expect(phone.wire("received", "OPTIONS ").length).toBeGreaterThan(0);
    });
  });
});
