// linphonec (Debian `linphone-cli`: liblinphone 5.1, the SIP stack of the Linphone apps; driven
// by ./linphone.ts) against sipext: it registers over UDP and TCP with sipext as outbound proxy
// (README "Registering a phone"), and as VoIPbin's own quickstart sets Linphone up (username,
// password, domain, UDP — no proxy: the domain resolves, here through /etc/hosts); it calls a
// SIP.js phone and is called by one, holds and resumes (pause/resume: re-INVITEs), hangs up (BYE)
// and gives up before the answer (CANCEL).
import { randomBytes } from "node:crypto";
import { SessionState } from "sip.js";
import { beforeAll, describe, expect, it } from "vitest";
import { client, DATABASES } from "../helpers/harness.js";
import { until } from "../sip/raw-sip.js";
import { addHostsEntry, removeHostsEntry } from "./hosts.js";
import { Linphone, type LinphoneOptions, type LinphoneTransport } from "./linphone.js";
import { type Ext, phoneSuite } from "./phones.js";
import { directionOf, SipjsPhone, sessionState } from "./sipjs-phone.js";

const TRANSPORTS: Array<[string, LinphoneTransport]> = [
  ["UDP", "udp"],
  ["TCP", "tcp"],
];

describe.each(DATABASES)("linphonec against sipext on %s", (kind) => {
  const s = phoneSuite(kind);
  let hostsLine: string | undefined;

  beforeAll(() => {
    hostsLine = addHostsEntry(s.h.admin.domainName, "linphone");
    return () => removeHostsEntry(hostsLine);
  });

  const linphone = (e: Ext, more: Partial<LinphoneOptions> = {}) =>
    Linphone.start(s.phones, {
      ext: e.ext,
      password: e.password,
      domain: s.h.admin.domainName,
      sipPort: s.h.server.sip.port,
      transport: "udp",
      label: e.ext,
      ...more,
    });

  const address = (e: Ext) => `sip:${e.ext}@${s.h.admin.domainName}`;

  it.each(TRANSPORTS)(
    "registers linphonec over %s with sipext as outbound proxy, and unregisters it when it quits",
    async (T, t) => {
      const e = await s.extension("l");
      const phone = await linphone(e, { transport: t });
      await s.phones.explain(async () => {
        await s.registered(e);
        const [c] = await s.contactsOf(e.id);
        expect(c?.transport).toBe(T);
        expect(c?.user_agent).toMatch(/^Linphonec?\/5\.\d+\.\d+/i);
        expect(c?.uri).toMatch(new RegExp(`^sip:${e.ext}@127\\.0\\.0\\.1:\\d+`));
        expect(c?.expires).toBeLessThanOrEqual(600);
        // linphonec itself says it is registered.
        expect(await phone.registered()).toBe(`registered, identity=${address(e)} duration=600`);
        // The first REGISTER went to sipext and was challenged with 401 MD5, the second passed.
        await until("the 401 in linphonec's log", () => phone.wire("received", "SIP/2.0 401 ").length > 0);
        expect(phone.wire("received", "SIP/2.0 401 ")[0]?.raw).toMatch(
          /^WWW-Authenticate: Digest realm="[^"]+", nonce="[^"]+", qop="auth", algorithm=MD5\r?$/m,
        );

        // Told to quit, linphonec unregisters before it exits.
        const end = await phone.stop();
        expect(end.signal).toBeNull();
        expect(await s.contactsOf(e.id)).toEqual([]);
      });
    },
  );

  it("registers linphonec as VoIPbin's quickstart sets Linphone up: username, password and domain, UDP, no proxy", async (ctx) => {
    if (!hostsLine) ctx.skip("/etc/hosts is not writable: the customer's domain cannot resolve");
    // The quickstart's API calls, with the token in the query string as it sends it.
    const anon = client(s.h.url);
    const customer = await anon.get(`/v1.0/customer?token=${s.h.admin.token}`);
    expect(customer.status).toBe(200);
    const domain = `${customer.body.id as string}.${s.h.config.registrarDomain}`;
    expect(domain).toBe(s.h.admin.domainName);
    const password = s.h.secret(`Qs-${randomBytes(8).toString("hex")}`);
    const created = await anon.post(`/v1.0/extensions?token=${s.h.admin.token}`, {
      name: "quickstart-phone",
      detail: "Quickstart softphone extension",
      extension: `quickstart${randomBytes(2).toString("hex")}`,
      password,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const e: Ext = {
      id: created.body.id as string,
      ext: created.body.extension as string,
      password,
      hash: created.body.direct_hash as string,
    };
    expect(created.body.username).toBe(e.ext);
    expect(created.body.domain_name).toBe(domain);

    const phone = await linphone(e, { proxy: "domain" });
    await s.phones.explain(async () => {
      await s.registered(e);
      // linphonec writes its log after it acts: the REGISTER with digest may be logged a moment
      // after sipext has stored its binding (CI saw it missing once).
      await until(
        "the second REGISTER in linphonec's log",
        () => phone.wire("sent", "REGISTER ").length >= 2,
      );
      const [first, second] = phone.wire("sent", "REGISTER ");
      // Linphone resolved the domain itself (no proxy address anywhere) and sent there.
      expect(first?.firstLine).toBe(`REGISTER sip:${domain} SIP/2.0`);
      expect(first?.dst).toBe(`${domain}:${s.h.server.sip.port}`);
      expect(first?.raw).not.toMatch(/^Route:/m);
      expect(second?.raw).toMatch(new RegExp(`^Authorization:\\s+Digest .*username="${e.ext}"`, "m"));
      const [c] = await s.contactsOf(e.id);
      expect(c?.transport).toBe("UDP");
    });
  });

  it.each(TRANSPORTS)(
    "linphonec over %s calls a SIP.js phone: 407, answered, paused and resumed, hung up",
    async (_T, t) => {
      const [le, je] = await Promise.all([s.extension("l"), s.extension("l")]);
      const [phone, js] = await Promise.all([linphone(le, { transport: t }), SipjsPhone.on(s, je)]);
      await s.phones.explain(async () => {
        await s.registered(le, je);
        phone.command(`call ${address(je)}`);
        const invitation = await js.invitation(0, 10_000);
        expect(invitation.remoteIdentity.uri.toString()).toBe(address(le));
        await invitation.accept();
        await phone.line(/Call 1 with \S+ connected\./);
        await sessionState(invitation, SessionState.Established);
        await until(
          "the INVITE with credentials in linphonec's log",
          () => phone.wire("sent", "INVITE ").length >= 2,
        );
        await until("the 407 in linphonec's log", () => phone.wire("received", "SIP/2.0 407 ").length > 0);
        const invites = phone.wire("sent", "INVITE ");
        expect(invites).toHaveLength(2);
        expect(invites[1]?.raw).toMatch(/^Proxy-Authorization:\s+Digest /m);
        expect(phone.wire("received", "SIP/2.0 407 ")).toHaveLength(1);

        // pause: a re-INVITE offering sendonly reaches SIP.js, which answers recvonly
        await until("SIP.js's ACK", () => js.wire("received", "ACK ").length > 0);
        phone.command("pause");
        await phone.line(/Call 1 with \S+ is now paused\./);
        expect(directionOf(SipjsPhone.sdh(invitation).remote.at(-1) ?? "")).toBe("sendonly");
        expect(directionOf(SipjsPhone.sdh(invitation).local.at(-1) ?? "")).toBe("recvonly");
        // resume: sendrecv again
        await until("the ACK of the pause", () => js.wire("received", "ACK ").length > 1);
        const before = phone.output().length;
        phone.command("resume");
        await phone.line(/Media streams established with \S+ for call 1/, 10_000, before);
        expect(directionOf(SipjsPhone.sdh(invitation).remote.at(-1) ?? "")).toBe("sendrecv");
        expect(js.wire("received", "INVITE ")).toHaveLength(3);
        expect(invitation.state).toBe(SessionState.Established);

        phone.command("terminate");
        await sessionState(invitation, SessionState.Terminated);
        expect(js.wire("received", "BYE ")).toHaveLength(1);
        await phone.line(/Call 1 with \S+ ended/);
      });
    },
  );

  it("a SIP.js phone calls linphonec, which answers; the SIP.js side hangs up", async () => {
    const [le, je] = await Promise.all([s.extension("l"), s.extension("l")]);
    const [phone, js] = await Promise.all([linphone(le), SipjsPhone.on(s, je)]);
    await s.phones.explain(async () => {
      await s.registered(le, je);
      const inviter = await js.call(address(le));
      await phone.line(new RegExp(`Receiving new incoming call from ${address(je)}, assigned id 1`));
      await until("the 180 at SIP.js", () => js.wire("received", "SIP/2.0 180 ").length > 0);
      phone.command("answer");
      await sessionState(inviter, SessionState.Established);
      await phone.line(/Call 1 with \S+ connected\./);
      expect(phone.wire("received", "INVITE ")[0]?.firstLine).toMatch(
        new RegExp(`^INVITE sip:${le.ext}@127\\.0\\.0\\.1:\\d+`),
      );

      await inviter.bye();
      await phone.line(/Call 1 with \S+ ended/);
      await sessionState(inviter, SessionState.Terminated);
      await until("the BYE in linphonec's log", () => phone.wire("received", "BYE ").length > 0);
    });
  });

  it("linphonec gives up before the SIP.js phone answers: the CANCEL reaches it", async () => {
    const [le, je] = await Promise.all([s.extension("l"), s.extension("l")]);
    const [phone, js] = await Promise.all([linphone(le), SipjsPhone.on(s, je)]);
    await s.phones.explain(async () => {
      await s.registered(le, je);
      phone.command(`call ${address(je)}`);
      const invitation = await js.invitation(0, 10_000);
      await phone.line(/Call 1 to \S+ ringing\./);
      phone.command("terminate");
      await sessionState(invitation, SessionState.Terminated);
      expect(js.wire("received", "CANCEL ")).toHaveLength(1);
      expect(js.wire("sent", "SIP/2.0 487 ")).toHaveLength(1);
      await phone.line(/Call 1 with \S+ ended/);
    });
  });

  it("a SIP.js phone gives up before linphonec answers: the CANCEL reaches linphonec", async () => {
    const [le, je] = await Promise.all([s.extension("l"), s.extension("l")]);
    const [phone, js] = await Promise.all([linphone(le, { transport: "tcp" }), SipjsPhone.on(s, je)]);
    await s.phones.explain(async () => {
      await s.registered(le, je);
      const inviter = await js.call(address(le));
      await phone.line(/Receiving new incoming call from \S+, assigned id 1/);
      await until("the 180 at SIP.js", () => js.wire("received", "SIP/2.0 180 ").length > 0);
      await inviter.cancel();
      await sessionState(inviter, SessionState.Terminated);
      await until("the CANCEL in linphonec's log", () => phone.wire("received", "CANCEL ").length > 0);
      await until("its 487", () => phone.wire("sent", "SIP/2.0 487 ").length > 0);
      await phone.line(/Call 1 with \S+ ended/);
    });
  });
});
