// baresip (Debian `baresip-core`), a full SIP user agent, registering headless against the
// registrar over UDP and over TCP, then unregistering when it is told to quit (SIGINT), as
// /work/shared/bench/kamailio/baresip_register.sh drives it. Every baresip is bounded twice: its own
// `-t` (quit after N seconds) and a SIGKILL a little later.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
import { killChildren, spawnBounded } from "./sipp.js";

const CONFIG = `sip_listen\t\t127.0.0.1:0
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\taccount.so
module\t\t\tmenu.so
audio_player\t\taufile,/dev/null
audio_source\t\tausine,440
`;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(DATABASES)("baresip against the registrar on %s", (kind) => {
  let h: Harness;
  let api: Client;
  const dirs: string[] = [];

  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
  });
  afterAll(async () => {
    killChildren();
    for (const d of dirs) removeDir(d);
    await h.close();
    await dropSchema(h.databaseUrl);
    removeDir(h.dataDir);
  });

  async function contactsOf(id: string): Promise<Contact[]> {
    const res = await api.get<{ result: Contact[] }>(`/v1.0/extensions/${id}/contacts`);
    expect(res.status).toBe(200);
    return res.body.result;
  }

  it.each([
    ["UDP", "udp"],
    ["TCP", "tcp"],
  ])(
    "registers baresip over %s, lists it with its user agent, and drops it when baresip quits",
    async (T, t) => {
      const ext = `40${t === "udp" ? 1 : 2}`;
      const password = h.secret(`Pw-${randomBytes(6).toString("hex")}`);
      const created = await api.post("/v1.0/extensions", { extension: ext, password });
      expect(created.status).toBe(200);
      const id = created.body.id as string;

      const dir = mkdtempSync(join(tmpdir(), "sipext-baresip-"));
      dirs.push(dir);
      writeFileSync(join(dir, "config"), CONFIG);
      const target = `sip:127.0.0.1:${h.server.sip.port};transport=${t}`;
      writeFileSync(
        join(dir, "accounts"),
        `<sip:${ext}@${h.admin.domainName};transport=${t}>;auth_pass=${password};outbound="${target}";regint=600\n`,
      );
      // -s prints the SIP trace; -t 30 makes baresip quit by itself should the SIGINT below not come.
      const run = spawnBounded("baresip", ["-f", dir, "-t", "30", "-s"], 40_000);

      const [c] = await waitFor("baresip's binding", async () => {
        const list = await contactsOf(id);
        return list.length > 0 ? list : undefined;
      });
      expect(c?.transport).toBe(T);
      expect(c?.user_agent).toMatch(/^baresip v\d+\.\d+\.\d+/);
      expect(c?.uri).toMatch(
        new RegExp(`^sip:${ext}-0x[0-9a-f]+@127\\.0\\.0\\.1:\\d+${t === "tcp" ? ";transport=tcp" : ""}$`),
      );
      expect(c?.source).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(c?.expires).toBeGreaterThanOrEqual(595);
      expect(c?.expires).toBeLessThanOrEqual(600);
      expect(c?.cseq).toBeGreaterThan(0);
      // baresip itself saw the registration succeed (it prints "… 200 OK (sipext) [1 binding]").
      await waitFor("baresip's report", async () =>
        /200 OK \(sipext\) \[1 binding\]/.test(run.output()) ? true : undefined,
      );

      // Told to quit, baresip unregisters (Expires 0, with digest) before it exits.
      run.child.kill("SIGINT");
      const end = await run.done;
      expect(end.signal, end.output).toBeNull();
      expect(end.code, end.output).toBe(0);
      expect(end.output).toMatch(/;expires=0/);
      expect(await contactsOf(id)).toEqual([]);
    },
  );
});
