// Phones set up by a provisioning link alone (CONTRACT §17): baresip given nothing but the
// `?format=baresip` line registers; linphonec (liblinphone, the Linphone apps' SIP stack) given
// nothing but the link as its remote-provisioning URI (what scanning the QR code sets) fetches the
// XML, applies it and registers — with the password, or with the HA1 when passwords are not kept.
import { describe, expect, it } from "vitest";
import { DATABASES } from "../helpers/harness.js";
import { startBaresip } from "./baresip.js";
import { Linphone } from "./linphone.js";
import { phoneSuite, waitFor } from "./phones.js";

describe.each(DATABASES)("a phone provisioned by link on %s", (kind) => {
  const s = phoneSuite(kind);

  it("registers baresip with nothing but the link's baresip line", async () => {
    const e = await s.extension("prov");
    const link = await s.api.post<{ url: string; token: string }>(`/v1.0/extensions/${e.id}/provisioning`);
    expect(link.status).toBe(200);
    s.h.secret(link.body.token);
    const res = await fetch(`${link.body.url}&format=baresip`);
    expect(res.status).toBe(200);
    const accounts = await res.text();
    expect(accounts).toContain(`auth_pass=${e.password}`);

    // ext, password and domain below only name the phone in messages: the accounts file is the line.
    const phone = await startBaresip(s.phones, {
      ext: e.ext,
      password: "unused-by-this-phone",
      domain: "unused.invalid",
      sipPort: 1,
      transport: "udp",
      control: false,
      timeoutS: 30,
      accounts,
    });
    await s.phones.explain(async () => {
      const [c] = await waitFor("the provisioned baresip's binding", async () => {
        const list = await s.contactsOf(e.id);
        return list.length > 0 ? list : undefined;
      });
      expect(c?.user_agent).toMatch(/^baresip/);
      expect(c?.transport).toBe("UDP");
      await phone.line(/200 OK \(sipext\) \[1 binding\]/);
    });
  });
});

// With SIPEXT_SHOW_PASSWORDS=false the link carries the HA1 instead of the password: Linphone
// answers the digest challenge with it all the same.
describe.each(DATABASES.flatMap((kind) => [[kind, "true"] as const, [kind, "false"] as const]))(
  "Linphone provisioned by link on %s, SIPEXT_SHOW_PASSWORDS=%s",
  (kind, show) => {
    const s = phoneSuite(kind, { SIPEXT_SHOW_PASSWORDS: show });

    it("registers linphonec configured by nothing but the link (remote provisioning, config-uri)", async () => {
      const e = await s.extension("lin");
      const link = await s.api.post<{ url: string; token: string }>(`/v1.0/extensions/${e.id}/provisioning`);
      expect(link.status).toBe(200);
      s.h.secret(link.body.token);
      const rtp = 20_000 + 100 * Math.floor(Math.random() * 400);
      // What a Linphone app holds after scanning the QR code: its own ports and the provisioning URI.
      const rc = [
        "[sip]",
        "sip_port=-1",
        "sip_tcp_port=0",
        "sip_tls_port=0",
        "[rtp]",
        `audio_rtp_port=${rtp}-${rtp + 99}`,
        "[misc]",
        `config-uri=${link.body.url}`,
        "",
      ].join("\n");
      const phone = await Linphone.start(s.phones, {
        ext: e.ext,
        password: "",
        domain: "",
        sipPort: 0,
        transport: "udp",
        rc,
      });
      await s.phones.explain(async () => {
        expect(await phone.registered(15_000)).toContain(`sip:${e.ext}@${s.h.admin.domainName}`);
        const [c] = await s.contactsOf(e.id);
        expect(c?.user_agent).toMatch(/Linphone|liblinphone|belle-sip/i);
      });
    });
  },
);
