// Calls between two SIP.js softphones (./sipjs-phone.ts) through the proxy, each set up as a web
// app sets SIP.js up: the extension at the customer's SIP domain, its password, and sipext as
// outbound proxy through SIP.js's `preloadedRouteSet` — every request outside a dialog carries
// `Route: <sip:<sipext>:<HTTP port>;transport=ws;lr>`, which sipext takes off as naming itself
// (CONTRACT §9). Both talk over SIP.js's own WebSocket transport to `ws://…/sip` and keep its
// browser Contact (`…@<random>.invalid;transport=ws`): sipext reaches them over the WebSocket
// they registered on. What is checked is what the phones report
// (session states, the SDP their handlers were given) and the SIP they sent and received.
import { type Inviter, SessionState, Web } from "sip.js";
import { describe, expect, it } from "vitest";
import { DATABASES } from "../helpers/harness.js";
import { sleep, until } from "../sip/raw-sip.js";
import { phoneSuite } from "./phones.js";
import { directionOf, header, SipjsPhone, sessionState, startLine } from "./sipjs-phone.js";

const cseqOf = (m: string) => header(m, "CSeq") ?? "";

describe.each(DATABASES)("calls between SIP.js softphones on %s", (kind) => {
  const s = phoneSuite(kind);

  /** Two registered SIP.js phones, caller and callee, on fresh extensions. */
  async function twoPhones() {
    const [a, b] = await Promise.all([s.extension("j"), s.extension("j")]);
    const caller = await SipjsPhone.on(s, a, "caller");
    const callee = await SipjsPhone.on(s, b, "callee");
    await s.phones.explain(() => s.registered(a, b));
    return { a, b, caller, callee };
  }

  /** The caller calls `target`, the callee's phone rings; resolves with both sessions. */
  async function ring(caller: SipjsPhone, callee: SipjsPhone, target: string) {
    const inviter = await caller.call(target);
    const invitation = await callee.invitation();
    return { inviter, invitation };
  }

  /** The callee answers and both sides are established; the callee has the caller's ACK. */
  async function answer(
    callee: SipjsPhone,
    inviter: Inviter,
    invitation: Awaited<ReturnType<typeof ring>>["invitation"],
  ) {
    await invitation.accept();
    await sessionState(inviter, SessionState.Established);
    await sessionState(invitation, SessionState.Established);
    await until("the ACK at the callee", () => callee.wire("received", "ACK ").length > 0);
  }

  it("calls another extension by its address through the outbound proxy: 407, answered, both see the caller's BYE", async () => {
    const { a, b, caller, callee } = await twoPhones();
    await s.phones.explain(async () => {
      const { inviter, invitation } = await ring(caller, callee, `sip:${b.ext}@${s.h.admin.domainName}`);
      // The caller's INVITEs: the first without credentials, challenged with 407 in the callee's
      // realm, the second with Proxy-Authorization; both with the preloaded Route to sipext.
      const invites = caller.wire("sent", "INVITE ");
      expect(invites).toHaveLength(2);
      for (const m of invites)
        expect(header(m, "Route")).toBe(`sip:127.0.0.1:${s.h.server.httpPort};transport=ws;lr`);
      expect(header(invites[0] ?? "", "Proxy-Authorization")).toBeUndefined();
      expect(header(invites[1] ?? "", "Proxy-Authorization")).toMatch(
        new RegExp(`^Digest .*username="${a.ext}"`),
      );
      const challenge = caller.wire("received", "SIP/2.0 407 ")[0] ?? "";
      expect(header(challenge, "Proxy-Authenticate")).toMatch(
        new RegExp(`^Digest realm="${s.h.admin.domainName}", nonce="[^"]+", qop="auth", algorithm=MD5`),
      );
      // The callee was reached at its registered Contact, over its own connection, ringing.
      const [incoming] = callee.wire("received", "INVITE ");
      expect(startLine(incoming ?? "")).toMatch(/^INVITE sip:\w+@\w+\.invalid;transport=ws SIP\/2\.0$/);
      expect(header(incoming ?? "", "From")).toContain(`<sip:${a.ext}@${s.h.admin.domainName}>`);
      expect(header(incoming ?? "", "Proxy-Authorization")).toBeUndefined();
      await until("the 180 at the caller", () => caller.wire("received", "SIP/2.0 180 ").length > 0);

      await answer(callee, inviter, invitation);
      // Offer and answer went through untouched.
      expect(SipjsPhone.sdh(invitation).remote[0]).toBe(SipjsPhone.sdh(inviter).local[0]);
      expect(SipjsPhone.sdh(inviter).remote[0]).toBe(SipjsPhone.sdh(invitation).local[0]);

      await inviter.bye();
      await sessionState(invitation, SessionState.Terminated);
      await sessionState(inviter, SessionState.Terminated);
      const [bye] = callee.wire("received", "BYE ");
      expect(header(bye ?? "", "Call-ID")).toBe(header(incoming ?? "", "Call-ID"));
      const byeOk = (m: string) => startLine(m) === "SIP/2.0 200 OK" && / BYE$/.test(cseqOf(m));
      await until("the 200 to the BYE at the caller", () => caller.transport.received.some(byeOk));
      expect(callee.transport.sent.filter(byeOk)).toHaveLength(1);
    });
  });

  it("calls an extension's direct address without credentials; the callee's BYE ends it on both sides", async () => {
    const { b, caller, callee } = await twoPhones();
    await s.phones.explain(async () => {
      const { inviter, invitation } = await ring(
        caller,
        callee,
        `sip:direct.${b.hash}@${s.h.config.directDomain}`,
      );
      await answer(callee, inviter, invitation);
      // No challenge: one INVITE, never a 407.
      expect(caller.wire("sent", "INVITE ")).toHaveLength(1);
      expect(caller.wire("received", "SIP/2.0 407 ")).toEqual([]);
      expect(header(callee.wire("received", "INVITE ")[0] ?? "", "To")).toBe(
        `<sip:direct.${b.hash}@${s.h.config.directDomain}>`,
      );

      await invitation.bye();
      await sessionState(inviter, SessionState.Terminated);
      await sessionState(invitation, SessionState.Terminated);
      expect(caller.wire("received", "BYE ")).toHaveLength(1);
      expect(callee.wire("sent", "BYE ")).toHaveLength(1);
    });
  });

  it("passes the caller's CANCEL before the answer: the ringing phone stops and the caller gets 487", async () => {
    const { b, caller, callee } = await twoPhones();
    await s.phones.explain(async () => {
      const { inviter, invitation } = await ring(caller, callee, `sip:${b.ext}@${s.h.admin.domainName}`);
      await until("the 180 at the caller", () => caller.wire("received", "SIP/2.0 180 ").length > 0);
      await inviter.cancel();
      await sessionState(invitation, SessionState.Terminated);
      await sessionState(inviter, SessionState.Terminated);
      expect(caller.wire("sent", "CANCEL ")).toHaveLength(1);
      const cancels = callee.wire("received", "CANCEL ");
      expect(cancels).toHaveLength(1);
      expect(header(cancels[0] ?? "", "Call-ID")).toBe(
        header(callee.wire("received", "INVITE ")[0] ?? "", "Call-ID"),
      );
      // The callee ended its INVITE with 487, relayed to the caller, which ACKed it.
      expect(callee.wire("sent", "SIP/2.0 487 ")).toHaveLength(1);
      await until("the 487 at the caller", () => caller.wire("received", "SIP/2.0 487 ").length > 0);
      expect(invitation.state).toBe(SessionState.Terminated);
      expect(callee.wire("sent", "SIP/2.0 200 OK").some((m) => / INVITE$/.test(cseqOf(m)))).toBe(false);
    });
  });

  it("relays the callee's rejection (486 Busy Here) to the caller", async () => {
    const { b, caller, callee } = await twoPhones();
    await s.phones.explain(async () => {
      const { inviter, invitation } = await ring(caller, callee, `sip:${b.ext}@${s.h.admin.domainName}`);
      await invitation.reject({ statusCode: 486 });
      await sessionState(inviter, SessionState.Terminated);
      await until("the 486 at the caller", () => caller.wire("received", "SIP/2.0 486 ").length > 0);
      expect(caller.wire("received", "SIP/2.0 200 OK").some((m) => / INVITE$/.test(cseqOf(m)))).toBe(false);
    });
  });

  it("passes re-INVITEs both ways: the caller holds and resumes, then the callee holds; each is answered", async () => {
    const { b, caller, callee } = await twoPhones();
    await s.phones.explain(async () => {
      const { inviter, invitation } = await ring(caller, callee, `sip:${b.ext}@${s.h.admin.domainName}`);
      await answer(callee, inviter, invitation);

      /**
       * `session` re-INVITEs, holding or resuming; resolves with the status of the answer, once
       * the other phone has its ACK (SIP.js answers an INVITE that comes while it is still
       * processing the last ACK with 500, as RFC 6337 §4.3 asks — a user is never that fast).
       */
      const reinvite = async (session: typeof inviter | typeof invitation, hold: boolean) => {
        const other = session === inviter ? callee : caller;
        const acked = () => other.wire("received", "ACK ").length;
        const before = acked();
        let status = 0;
        await session.invite({
          sessionDescriptionHandlerModifiers: hold ? [Web.holdModifier] : [],
          requestDelegate: {
            onAccept: (r) => {
              status = r.message.statusCode ?? -1;
            },
            onReject: (r) => {
              status = r.message.statusCode ?? -1;
            },
          },
        });
        await until("the answer to the re-INVITE", () => status !== 0);
        if (status === 200) {
          await until("the ACK of the re-INVITE", () => acked() > before);
          await sleep(20);
        }
        return status;
      };
      const lastRemote = (session: typeof inviter | typeof invitation) =>
        directionOf(SipjsPhone.sdh(session).remote.at(-1) ?? "");

      // Hold: the callee is offered sendonly and answers recvonly, which the caller gets back.
      expect(await reinvite(inviter, true)).toBe(200);
      expect(lastRemote(invitation)).toBe("sendonly");
      expect(lastRemote(inviter)).toBe("recvonly");
      // Resume.
      expect(await reinvite(inviter, false)).toBe(200);
      expect(lastRemote(invitation)).toBe("sendrecv");
      expect(lastRemote(inviter)).toBe("sendrecv");
      // The callee's own re-INVITE goes the other way through the Record-Route.
      expect(await reinvite(invitation, true)).toBe(200);
      expect(lastRemote(inviter)).toBe("sendonly");
      expect(lastRemote(invitation)).toBe("recvonly");

      // Every re-INVITE reached the other phone inside the dialog (same Call-ID, To tag set), and
      // the call is still up on both sides.
      const callId = header(caller.wire("sent", "INVITE ")[0] ?? "", "Call-ID");
      const reinvitesAtCallee = callee.wire("received", "INVITE ").slice(1);
      expect(reinvitesAtCallee).toHaveLength(2);
      expect(caller.wire("received", "INVITE ")).toHaveLength(1);
      for (const m of [...reinvitesAtCallee, ...caller.wire("received", "INVITE ")]) {
        expect(header(m, "Call-ID")).toBe(callId);
        expect(header(m, "To")).toMatch(/;tag=/);
      }
      expect(inviter.state).toBe(SessionState.Established);
      expect(invitation.state).toBe(SessionState.Established);

      await inviter.bye();
      await sessionState(invitation, SessionState.Terminated);
    });
  });
});
