// Browser softphones (issue #11): Debian's Chromium with JsSIP pages (./browser.ts) registering and
// calling through sipext over SIP over WebSocket (RFC 7118), on ws:// (the HTTP port) and wss://
// (the HTTPS port, with the self-signed certificate of SIPEXT_TLS_SELF_SIGNED, whose key alone
// Chromium is told to trust). Each page is set up as a user sets up a browser softphone: the
// extension at the customer's SIP domain, the password given to the API, the server's /sip URL.
//
// What is checked: both registrations show in the API as WebSocket contacts (WS over ws://, WSS
// over wss://); a call between two pages by extension address (407 answered by JsSIP) and by
// direct address (no credentials) is answered with audio from Chromium's fake microphone, and the
// WebRTC peer connection reaches "connected" on both pages — the media flows page to page over
// ICE host candidates, sipext carries only the signalling; one page holds and resumes (two
// re-INVITEs through sipext), then the BYE of the other ends the call on both ("Terminated",
// JsSIP's cause for a BYE); a CANCEL before the answer reaches the ringing page.
//
// Browser ↔ baresip (a plain-RTP phone registered over UDP): only the signalling is in scope. A
// WebRTC offer (UDP/TLS/RTP/SAVPF with ICE and DTLS-SRTP) means nothing to baresip, and an
// RTP/AVP offer means nothing to a browser, so no call between them can carry media without a
// media gateway (which CONTRACT §10 leaves out). What these tests assert is that the signalling
// crosses transports (WS ↔ UDP) end to end both ways: the INVITE reaches the other phone, its
// final answer — baresip's 488 to the WebRTC offer, the browser's 486 or 488 to baresip's — comes
// back through sipext to the caller, and each hop ACKs it (a non-2xx is ACKed hop by hop).
import { describe, expect, it } from "vitest";
import { DATABASES } from "../helpers/harness.js";
import { type Baresip, startBaresip } from "./baresip.js";
import { browserSuite, type PageCall, type SipFrame, type Softphone } from "./browser.js";
import { type Ext, waitFor } from "./phones.js";

type Scheme = "ws" | "wss";
const SCHEMES: Scheme[] = ["ws", "wss"];

const TLS_ENV = { SIPEXT_TLS_SELF_SIGNED: "true", SIPEXT_HTTPS_PORT: "0", SIPEXT_SIP_TLS_PORT: "0" };

const callIdOf = (raw: string) => /^(?:Call-ID|i):\s*(\S+)/im.exec(raw)?.[1];
const cseqOf = (raw: string) => /^CSeq:\s*(\d+ \w+)/im.exec(raw)?.[1] ?? "";
/** Polls `check` until it holds (phones.ts's waitFor for a yes/no). */
const waitUntil = (what: string, check: () => Promise<boolean>) =>
  waitFor(what, async () => ((await check()) ? true : undefined));
const requests = (frames: SipFrame[], method: string) =>
  frames.filter((f) => f.firstLine.startsWith(`${method} `));
const responses = (frames: SipFrame[], status: number) =>
  frames.filter((f) => f.firstLine.startsWith(`SIP/2.0 ${status} `));

describe.each(DATABASES)("browser softphones (Chromium, JsSIP) over WebSocket on %s", (kind) => {
  const s = browserSuite(kind, TLS_ENV, () => [tls().certPem]);

  /** the HTTPS port and the self-signed certificate of SIPEXT_TLS_SELF_SIGNED */
  function tls(): { httpsPort: number; certPem: string } {
    const { httpsPort, tlsCertificatePem } = s.h.server;
    if (!httpsPort || !tlsCertificatePem) throw new Error("the server serves no HTTPS (is TLS configured?)");
    return { httpsPort, certPem: tlsCertificatePem };
  }

  const wsUrl = (scheme: Scheme) =>
    scheme === "ws" ? `ws://127.0.0.1:${s.h.server.httpPort}/sip` : `wss://127.0.0.1:${tls().httpsPort}/sip`;

  /** A page registered as `e` over `scheme`, its binding shown by the API. */
  async function registeredPage(label: string, e: Ext, scheme: Scheme): Promise<Softphone> {
    const page = await s.browsers.open(label);
    await page.start({
      wsUrl: wsUrl(scheme),
      ext: e.ext,
      domain: s.h.admin.domainName,
      // the digest username is the extension (CONTRACT §6)
      username: e.ext,
      password: e.password,
    });
    await page.until(`the registration of ${e.ext}`, (snap) =>
      snap.events.find((ev) => ev.what === "registered" || ev.what === "registrationFailed"),
    );
    const snap = await page.snapshot();
    expect(snap.registered, `page ${label} is registered`).toBe(true);
    await s.registered(e);
    return page;
  }

  describe.each(SCHEMES)("over %s://", (scheme) => {
    it("two softphones register and both show as WebSocket contacts in the API", async ({ annotate }) => {
      const [a, b] = await Promise.all([s.extension("w"), s.extension("w")]);
      await s.explain(async () => {
        const [pageA, pageB] = await Promise.all([
          registeredPage("A", a, scheme),
          registeredPage("B", b, scheme),
        ]);
        for (const [e, page] of [
          [a, pageA],
          [b, pageB],
        ] as const) {
          const contacts = await s.contactsOf(e.id);
          expect(contacts).toHaveLength(1);
          const c = contacts[0];
          expect(c?.transport).toBe(scheme.toUpperCase());
          // JsSIP's own contact: a random user at a random .invalid host, ;transport=ws.
          expect(c?.uri).toMatch(/^sip:\w+@[a-z0-9]+\.invalid;transport=ws$/);
          expect(c?.user_agent).toMatch(/^JsSIP \d+\.\d+\.\d+/);
          expect(c?.source).toMatch(/^127\.0\.0\.1:\d+$/);
          // On the wire: REGISTER, 401 with the domain as realm, REGISTER with credentials, 200.
          const registers = requests(page.sent(), "REGISTER");
          expect(registers.length).toBeGreaterThanOrEqual(2);
          expect(registers[0]?.raw).toMatch(new RegExp(`^Via: SIP/2\\.0/${scheme.toUpperCase()} `, "m"));
          expect(responses(page.received(), 401)[0]?.raw).toMatch(
            new RegExp(
              `^WWW-Authenticate: Digest realm="${s.h.admin.domainName.replace(/\./g, "\\.")}"`,
              "m",
            ),
          );
          expect(responses(page.received(), 200)).not.toHaveLength(0);
          expect(page.frames.every((f) => f.url === wsUrl(scheme))).toBe(true);
        }
      }, annotate);
    });

    /** Pages A and B, registered over `scheme` as two fresh extensions. */
    async function twoPages(scheme: Scheme) {
      const [a, b] = await Promise.all([s.extension("w"), s.extension("w")]);
      const [pageA, pageB] = await Promise.all([
        registeredPage("A", a, scheme),
        registeredPage("B", b, scheme),
      ]);
      return { a, b, pageA, pageB };
    }

    /**
     * `holder` puts the call on hold and takes it off again: each re-INVITE reaches the other page
     * through sipext and is answered, and the media is still connected afterwards.
     */
    async function holdAndResume(
      holder: Softphone,
      holdersCall: number,
      other: Softphone,
      othersCall: number,
    ) {
      // JsSIP refuses (false, nothing sent) to offer again while its last offer is unanswered:
      // the answer to the call's INVITE, then to the hold, may still be on its way (CI saw it).
      await waitUntil("the holder able to hold", () => holder.hold(holdersCall));
      await other.callWhen(othersCall, "held", (c) => c.states.includes("hold by remote"));
      await holder.callWhen(holdersCall, "on hold", (c) => c.states.includes("hold by local"));
      await waitUntil("the holder able to resume (its hold answered)", () => holder.unhold(holdersCall));
      await other.callWhen(othersCall, "resumed", (c) => c.states.includes("unhold by remote"));
      await holder.callWhen(holdersCall, "resumed", (c) => c.states.includes("unhold by local"));
      // Two re-INVITEs (To tag set) left the holder and the same two reached the other page.
      const reInvites = (frames: SipFrame[]) =>
        requests(frames, "INVITE").filter((f) => /^To: .*;tag=/m.test(f.raw));
      const [holdOut, resumeOut] = reInvites(holder.sent());
      const [holdIn, resumeIn] = reInvites(other.received());
      expect(reInvites(holder.sent())).toHaveLength(2);
      expect(reInvites(other.received())).toHaveLength(2);
      expect(holdIn?.raw).toMatch(/^a=sendonly\r?$/m);
      expect(resumeIn?.raw).toMatch(/^a=sendrecv\r?$/m);
      expect(cseqOf(holdIn?.raw ?? "")).toBe(cseqOf(holdOut?.raw ?? ""));
      expect(cseqOf(resumeIn?.raw ?? "")).toBe(cseqOf(resumeOut?.raw ?? ""));
      await holder.callWhen(holdersCall, "still connected", (c) => c.connectionState === "connected");
      await other.callWhen(othersCall, "still connected", (c) => c.connectionState === "connected");
    }

    /**
     * A calls B (`how`: its extension address or its direct address); B answers with audio; both
     * peer connections connect; `other` of A and B holds and resumes; `hangsUp` ends the call and
     * the other page's session ends with the BYE that came through sipext.
     */
    async function browserCall(scheme: Scheme, how: "extension" | "direct", hangsUp: "A" | "B") {
      const { a, b, pageA, pageB } = await twoPages(scheme);
      const target =
        how === "extension"
          ? `sip:${b.ext}@${s.h.admin.domainName}`
          : `sip:direct.${b.hash}@${s.h.config.directDomain}`;
      const out = await pageA.call(target);
      const inc = await pageB.incoming();
      expect(inc.from).toBe(`sip:${a.ext}@${s.h.admin.domainName}`);
      await pageB.answer(inc.id);

      // Signalling: both sessions confirmed (200 and ACK went through sipext).
      await pageA.callWhen(out, "confirmed", (c) => c.states.includes("confirmed"));
      await pageB.callWhen(inc.id, "confirmed", (c) => c.states.includes("confirmed"));
      // Media: ICE and DTLS done page to page, the other's audio track arrived.
      const connected = (c: PageCall) => c.connectionState === "connected";
      const mediaA = await pageA.callWhen(out, "peer connection connected", connected);
      const mediaB = await pageB.callWhen(inc.id, "peer connection connected", connected);
      expect(mediaA.remoteTracks).toContain("audio");
      expect(mediaB.remoteTracks).toContain("audio");

      const invites = requests(pageA.sent(), "INVITE");
      if (how === "extension") {
        // The caller authenticated its INVITE: 407, then the INVITE again with credentials.
        expect(responses(pageA.received(), 407)).toHaveLength(1);
        expect(invites).toHaveLength(2);
        expect(invites[1]?.raw).toMatch(/^Proxy-Authorization: Digest /m);
      } else {
        expect(responses(pageA.received(), 407)).toHaveLength(0);
        expect(invites).toHaveLength(1);
        expect(requests(pageB.received(), "INVITE")[0]?.raw).toMatch(
          new RegExp(`^To: <sip:direct\\.${b.hash}@`, "m"),
        );
      }
      const callId = callIdOf(invites.at(-1)?.raw ?? "");
      expect(callIdOf(requests(pageB.received(), "INVITE")[0]?.raw ?? "")).toBe(callId);

      const [ender, endersCall, other, othersCall] =
        hangsUp === "A" ? [pageA, out, pageB, inc.id] : [pageB, inc.id, pageA, out];
      // In-dialog requests both ways: the one that will not hang up holds and resumes first.
      await holdAndResume(other, othersCall, ender, endersCall);

      await ender.hangup(endersCall);
      const ended = await other.callWhen(othersCall, "ended", (c) => c.ended !== undefined);
      expect(ended.ended).toMatchObject({
        how: "ended",
        originator: "remote",
        cause: (await other.causes()).BYE,
      });
      const mine = await ender.callWhen(endersCall, "ended", (c) => c.ended !== undefined);
      expect(mine.ended).toMatchObject({ how: "ended", originator: "local" });
      // One BYE left the one that hung up and one reached the other, which said 200 back.
      const byeOut = requests(ender.sent(), "BYE");
      const byeIn = requests(other.received(), "BYE");
      expect(byeOut).toHaveLength(1);
      expect(byeIn).toHaveLength(1);
      expect(callIdOf(byeIn[0]?.raw ?? "")).toBe(callId);
      expect(cseqOf(byeIn[0]?.raw ?? "")).toBe(cseqOf(byeOut[0]?.raw ?? ""));
      await waitUntil("the 200 to the BYE", async () =>
        ender.received().some((f) => f.firstLine === "SIP/2.0 200 OK" && / BYE$/.test(cseqOf(f.raw))),
      );
    }

    it("A calls B by extension address: answered with audio, WebRTC connects page to page, B holds and resumes, A hangs up", async ({
      annotate,
    }) => {
      await s.explain(() => browserCall(scheme, "extension", "A"), annotate);
    });

    it("A calls B's direct address without credentials: WebRTC connects, A holds and resumes, B hangs up", async ({
      annotate,
    }) => {
      await s.explain(() => browserCall(scheme, "direct", "B"), annotate);
    });

    it("A gives up before B answers: the CANCEL reaches B, A gets the 487", async ({ annotate }) => {
      await s.explain(async () => {
        const { b, pageA, pageB } = await twoPages(scheme);
        const out = await pageA.call(`sip:${b.ext}@${s.h.admin.domainName}`);
        const inc = await pageB.incoming();
        await pageA.callWhen(out, "ringing", (c) => c.states.includes("progress"));
        await pageA.hangup(out);
        const causes = await pageA.causes();
        const cancelled = await pageB.callWhen(inc.id, "cancelled", (c) => c.ended !== undefined);
        expect(cancelled.ended).toMatchObject({
          how: "failed",
          originator: "remote",
          cause: causes.CANCELED,
        });
        const gaveUp = await pageA.callWhen(out, "cancelled", (c) => c.ended !== undefined);
        expect(gaveUp.ended).toMatchObject({ how: "failed", originator: "local", cause: causes.CANCELED });
        const callId = callIdOf(requests(pageA.sent(), "INVITE").at(-1)?.raw ?? "");
        expect(requests(pageA.sent(), "CANCEL").map((f) => callIdOf(f.raw))).toEqual([callId]);
        expect(requests(pageB.received(), "CANCEL").map((f) => callIdOf(f.raw))).toEqual([callId]);
        // B's 487 went back to sipext, sipext's 487 reached A; each hop ACKed.
        await waitUntil(
          "the 487s and their ACKs",
          async () =>
            responses(pageB.sent(), 487).length > 0 &&
            responses(pageA.received(), 487).length > 0 &&
            requests(pageA.sent(), "ACK").length > 0 &&
            requests(pageB.received(), "ACK").length > 0,
        );
        expect(cancelled.connectionStates).not.toContain("connected");
      }, annotate);
    });
  });

  describe("with a baresip phone registered over UDP (signalling only: no media between WebRTC and plain RTP)", () => {
    async function browserAndBaresip(answermode: "auto" | "manual") {
      const [a, c] = await Promise.all([s.extension("w"), s.extension("w")]);
      const phone = await startBaresip(s.phones, {
        ext: c.ext,
        password: c.password,
        domain: s.h.admin.domainName,
        sipPort: s.h.server.sip.port,
        transport: "udp",
        answermode,
        label: "baresip",
      });
      await s.registered(c);
      const page = await registeredPage("A", a, "ws");
      return { a, c, phone, page };
    }

    const fromSipext = (p: Baresip) => p.trace().filter((m) => m.src === `127.0.0.1:${s.h.server.sip.port}`);
    const toSipext = (p: Baresip) => p.trace().filter((m) => m.dst === `127.0.0.1:${s.h.server.sip.port}`);
    const ofCall = <M extends { firstLine: string; raw: string }>(
      ms: M[],
      callId: string | undefined,
      start: string,
    ) => ms.filter((m) => m.firstLine.startsWith(start) && callIdOf(m.raw) === callId);

    it("the browser calls baresip: the WebRTC offer reaches it, its 488 comes back to the browser, each hop ACKs", async ({
      annotate,
    }) => {
      const { c, phone, page } = await browserAndBaresip("auto");
      await s.explain(async () => {
        const out = await page.call(`sip:${c.ext}@${s.h.admin.domainName}`);
        const failed = await page.callWhen(out, "the end of the call", (x) => x.ended !== undefined, 15_000);
        const invites = requests(page.sent(), "INVITE");
        // The browser authenticated its INVITE (407 answered by JsSIP), as towards another browser.
        expect(invites).toHaveLength(2);
        expect(invites[1]?.raw).toMatch(/^Proxy-Authorization: Digest /m);
        const callId = callIdOf(invites[1]?.raw ?? "");
        // baresip got the INVITE from sipext over UDP, with the browser's WebRTC offer (SRTP
        // keyed by DTLS, ICE), which it cannot take: it answers 488 Not Acceptable Here.
        const [got] = ofCall(fromSipext(phone), callId, "INVITE ");
        expect(got?.raw).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
        expect(got?.raw).toMatch(/^a=fingerprint:sha-256 /m);
        expect(got?.raw).toMatch(/^a=ice-ufrag:/m);
        expect(ofCall(toSipext(phone), callId, "SIP/2.0 488 ")).toHaveLength(1);
        // That 488 reached the browser through sipext; JsSIP ends the call on it.
        expect(ofCall(page.received(), callId, "SIP/2.0 488 ")).toHaveLength(1);
        expect(failed.ended).toMatchObject({
          how: "failed",
          originator: "remote",
          status: 488,
          cause: (await page.causes()).INCOMPATIBLE_SDP,
        });
        // A non-2xx is ACKed hop by hop: the browser ACKed sipext's 488, sipext baresip's.
        await waitUntil(
          "the ACKs",
          async () =>
            requests(page.sent(), "ACK").length > 0 && ofCall(fromSipext(phone), callId, "ACK ").length > 0,
        );
        expect(failed.connectionStates).not.toContain("connected");
      }, annotate);
    });

    /** baresip dials the browser's extension; resolves with the call as the page got it. */
    async function baresipCallsBrowser() {
      const { a, c, phone, page } = await browserAndBaresip("manual");
      await phone.command("dial", `sip:${a.ext}@${s.h.admin.domainName}`);
      const inc = await page.incoming();
      expect(inc.from).toBe(`sip:${c.ext}@${s.h.admin.domainName}`);
      // The INVITE the page got is baresip's (same Call-ID), with its plain RTP offer.
      const [invite] = requests(page.received(), "INVITE");
      expect(invite?.raw).toMatch(/^m=audio \d+ RTP\/AVP /m);
      const callId = callIdOf(invite?.raw ?? "");
      expect(ofCall(toSipext(phone), callId, "INVITE ").length).toBeGreaterThan(0);
      return { phone, page, inc, callId };
    }

    /** The browser's final answer `status` went page → sipext → baresip, and each hop ACKed it. */
    async function finalReachedBaresip(
      phone: Baresip,
      page: Softphone,
      callId: string | undefined,
      status: number,
    ) {
      const closed = await phone.event("CALL_CLOSED", () => true, 10_000);
      expect(closed.id).toBe(callId);
      expect(closed.param).toMatch(new RegExp(`^${status} `));
      expect(responses(page.sent(), status).map((f) => callIdOf(f.raw))).toEqual([callId]);
      await waitUntil(
        "the ACKs",
        async () =>
          ofCall(fromSipext(phone), callId, `SIP/2.0 ${status} `).length > 0 &&
          ofCall(toSipext(phone), callId, "ACK ").length > 0 &&
          requests(page.received(), "ACK").length > 0,
      );
    }

    it("baresip calls the browser, which declines: its 486 reaches baresip", async ({ annotate }) => {
      await s.explain(async () => {
        const { phone, page, inc, callId } = await baresipCallsBrowser();
        await page.reject(inc.id, 486);
        await finalReachedBaresip(phone, page, callId, 486);
      }, annotate);
    });

    it("baresip calls the browser, which answers: WebRTC cannot take a plain RTP offer, the browser's 488 reaches baresip", async ({
      annotate,
    }) => {
      await s.explain(async () => {
        const { phone, page, inc, callId } = await baresipCallsBrowser();
        await page.answer(inc.id);
        const failed = await page.callWhen(inc.id, "the end of the call", (x) => x.ended !== undefined);
        expect(failed.ended).toMatchObject({ how: "failed", cause: (await page.causes()).WEBRTC_ERROR });
        await finalReachedBaresip(phone, page, callId, 488);
      }, annotate);
    });
  });
});
