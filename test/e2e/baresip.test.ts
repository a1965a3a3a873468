// baresip (Debian `baresip-core`), a full SIP user agent, registering headless against the
// registrar over UDP and over TCP, then unregistering when it is told to quit (SIGINT), as
// /work/shared/bench/kamailio/baresip_register.sh drives it. ./baresip.ts writes its config and
// runs it, bounded twice: its own `-t` (quit after N seconds) and a SIGKILL a little later.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DATABASES } from "../helpers/harness.js";
import { type BaresipTransport, startBaresip } from "./baresip.js";
import { phoneSuite, waitFor } from "./phones.js";

describe.each(DATABASES)("baresip against the registrar on %s", (kind) => {
  const s = phoneSuite(kind);

  it.each<[string, BaresipTransport]>([
    ["UDP", "udp"],
    ["TCP", "tcp"],
  ])(
    "registers baresip over %s, lists it with its user agent, and drops it when baresip quits",
    async (T, t) => {
      const ext = `40${t === "udp" ? 1 : 2}`;
      const password = s.h.secret(`Pw-${randomBytes(6).toString("hex")}`);
      const created = await s.api.post("/v1.0/extensions", { extension: ext, password });
      expect(created.status).toBe(200);
      const id = created.body.id as string;

      // -t 30 makes baresip quit by itself should the SIGINT below not come.
      const phone = await startBaresip(s.phones, {
        ext,
        password,
        domain: s.h.admin.domainName,
        sipPort: s.h.server.sip.port,
        transport: t,
        timeoutS: 30,
        control: false,
      });

      await s.phones.explain(async () => {
        const [c] = await waitFor("baresip's binding", async () => {
          const list = await s.contactsOf(id);
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
        await phone.line(/200 OK \(sipext\) \[1 binding\]/);

        // Told to quit (SIGINT), baresip unregisters (Expires 0, with digest) before it exits.
        const end = await phone.stop(10_000);
        expect(end.signal).toBeNull();
        expect(end.code).toBe(0);
        expect(end.output).toMatch(/;expires=0/);
        expect(await s.contactsOf(id)).toEqual([]);
      });
    },
  );
});
