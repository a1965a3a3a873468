// sipsak 0.9.8 (Debian `sipsak`) against the registrar: OPTIONS pings over UDP and TCP, and its
// usrloc mode (-U), which registers with digest and unregisters with -x 0.
//
// What sipsak 0.9.8.1 does that shapes this suite (seen in its -vvv traces):
// - It resolves the domain of the URI itself, even with an outbound proxy (-p), and gives up with
//   "is unresolvable" otherwise: the customer's domain (`<customer uuid>.registrar.localhost`)
//   must resolve, so the suite adds an /etc/hosts line for it and removes exactly that line
//   afterwards. Where /etc/hosts cannot be written (not root) the registration cases are skipped;
//   the OPTIONS pings go to 127.0.0.1 and need no name.
// - In usrloc mode it takes the digest username from the URI up to and including the "@"
//   (`username="100@"`), whatever the length of the domain (also with a short
//   SIPEXT_REGISTRAR_DOMAIN): the registrar rightly refuses that name, which is not the extension.
//   Passing it with -u fixes the digest; nothing else is needed.
// - It writes the URI's port into a 4-character field: `sip:x@host:59741` goes out as
//   `sip:x@host:5974` in the Request-URI, From and To (it still sends to 59741). The registrar
//   names the customer by the To host, not the port, so this is harmless.
import { randomBytes } from "node:crypto";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../src/domain/contacts.js";
import {
  type Client,
  client,
  DATABASES,
  dropSchema,
  type Harness,
  removeDir,
  startHarness,
} from "../helpers/harness.js";
import { killChildren, randomPort, spawnBounded } from "./sipp.js";

const HOSTS = "/etc/hosts";

/** Adds `127.0.0.1 <name>` to /etc/hosts; returns the exact line (to remove it), or undefined if it cannot. */
function addHostsEntry(name: string): string | undefined {
  const line = `127.0.0.1 ${name} # sipext-e2e-sipsak ${process.pid}`;
  try {
    appendFileSync(HOSTS, `${readFileSync(HOSTS, "utf8").endsWith("\n") ? "" : "\n"}${line}\n`);
    return line;
  } catch {
    return undefined;
  }
}

function removeHostsEntry(line: string | undefined): void {
  if (!line) return;
  const text = readFileSync(HOSTS, "utf8");
  const kept = text.split("\n").filter((l) => l !== line);
  if (kept.length !== text.split("\n").length) writeFileSync(HOSTS, kept.join("\n"));
}

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

describe.each(DATABASES)("sipsak against the registrar on %s", (kind) => {
  let h: Harness;
  let api: Client;
  let domain: string;
  let hostsLine: string | undefined;
  let n = 0;

  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
    domain = h.admin.domainName;
    hostsLine = addHostsEntry(domain);
  });
  afterAll(async () => {
    killChildren();
    removeHostsEntry(hostsLine);
    await h.close();
    await dropSchema(h.databaseUrl);
    removeDir(h.dataDir);
  });

  async function newExtension() {
    n++;
    const ext = `30${n}`;
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

  const target = (user: string) => `sip:${user}@${domain}:${h.server.sip.port}`;

  it("answers sipsak's OPTIONS ping over UDP with 200", async () => {
    const r = await sipsak(["-vv", "-s", `sip:ping@127.0.0.1:${h.server.sip.port}`]);
    expect(r.code, r.output).toBe(0);
    expect(replies(r.output)).toEqual([200]);
    // The methods this node handles: its own (REGISTER, OPTIONS) and those it proxies for calls.
    expect(r.output).toMatch(/^Allow: REGISTER, OPTIONS, INVITE, ACK, CANCEL, BYE\b.*\r?$/m);
  });

  it("answers sipsak's OPTIONS ping over TCP with 200", async () => {
    const r = await sipsak(["-vv", "-E", "tcp", "-s", `sip:ping@127.0.0.1:${h.server.sip.port}`]);
    expect(r.code, r.output).toBe(0);
    expect(replies(r.output)).toEqual([200]);
  });

  it("registers sipsak with digest in usrloc mode, and the API lists where it really sends from", async (ctx) => {
    if (!hostsLine) ctx.skip("/etc/hosts is not writable: sipsak cannot resolve the customer's domain");
    const e = await newExtension();
    const r = await sipsak(["-vvv", "-U", "-s", target(e.ext), "-u", e.ext, "-a", e.password, "-x", "3600"]);
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

  it('refuses the digest username sipsak derives by itself ("<extension>@"), which is not the extension', async (ctx) => {
    if (!hostsLine) ctx.skip("/etc/hosts is not writable: sipsak cannot resolve the customer's domain");
    const e = await newExtension();
    const r = await sipsak(["-vvv", "-U", "-s", target(e.ext), "-a", e.password, "-x", "3600"]);
    expect(r.output).toContain(`username="${e.ext}@"`);
    expect(r.code, r.output).not.toBe(0);
    expect(replies(r.output)).toEqual([401, 401]);
    expect(await contactsOf(e.id)).toEqual([]);
  });

  it("fails sipsak's registration with a wrong password and binds nothing", async (ctx) => {
    if (!hostsLine) ctx.skip("/etc/hosts is not writable: sipsak cannot resolve the customer's domain");
    const e = await newExtension();
    const r = await sipsak([
      "-vvv",
      "-U",
      "-s",
      target(e.ext),
      "-u",
      e.ext,
      "-a",
      "Wrong-pass-123",
      "-x",
      "3600",
    ]);
    expect(r.code, r.output).not.toBe(0);
    expect(replies(r.output)).toEqual([401, 401]);
    expect(await contactsOf(e.id)).toEqual([]);
  });

  it("removes sipsak's binding when it registers again with -x 0", async (ctx) => {
    if (!hostsLine) ctx.skip("/etc/hosts is not writable: sipsak cannot resolve the customer's domain");
    const e = await newExtension();
    const port = randomPort();
    const args = (x: string) => [
      "-l",
      String(port),
      "-vvv",
      "-U",
      "-s",
      target(e.ext),
      "-u",
      e.ext,
      "-a",
      e.password,
      "-x",
      x,
    ];
    const reg = await spawnBounded("sipsak", args("3600"), 15_000).done;
    expect(reg.code, reg.output).toBe(0);
    expect((await contactsOf(e.id)).map((c) => c.uri)).toEqual([`sip:${e.ext}@127.0.0.1:${port}`]);
    const unreg = await spawnBounded("sipsak", args("0"), 15_000).done;
    expect(unreg.code, unreg.output).toBe(0);
    expect(unreg.output).toMatch(/^Expires: 0\r?$/m);
    expect(await contactsOf(e.id)).toEqual([]);
  });
});
