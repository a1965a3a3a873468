// Calls between two different real clients through the proxy: baresip (a desktop/embedded phone,
// ./baresip.ts, over UDP or TCP) and SIP.js (a web softphone, ./sipjs-phone.ts, over WebSocket), each
// set up as its README section says. Calls go both ways — into baresip from SIP.js and out of
// baresip to SIP.js — with the callee answering, the other side putting it on hold, a BYE, and a
// CANCEL before the answer. Each side is checked by what it reports itself: baresip's UA events
// and SIP trace, SIP.js's session states and the SDP its handler was given.
import { SessionState, Web } from "sip.js";
import { describe, expect, it } from "vitest";
import { DATABASES } from "../helpers/harness.js";
import { until } from "../sip/raw-sip.js";
import { type BaresipTransport, startBaresip, type TracedMessage } from "./baresip.js";
import { type Ext, phoneSuite } from "./phones.js";
import { directionOf, header, SipjsPhone, sessionState } from "./sipjs-phone.js";

const TRANSPORTS: Array<[string, BaresipTransport]> = [
  ["UDP", "udp"],
  ["TCP", "tcp"],
];

const firstLines = (ms: TracedMessage[], start: string) => ms.filter((m) => m.firstLine.startsWith(start));

describe.each(DATABASES)("calls between baresip and SIP.js on %s", (kind) => {
  const s = phoneSuite(kind);

  /** A baresip on extension `e` over `transport`, answering at once or ringing until told. */
  const baresip = (e: Ext, transport: BaresipTransport, answermode: "auto" | "manual") =>
    startBaresip(s.phones, {
      ext: e.ext,
      password: e.password,
      domain: s.h.admin.domainName,
      sipPort: s.h.server.sip.port,
      transport,
      answermode,
      label: `baresip ${e.ext}`,
    });

  /** A registered baresip and a registered SIP.js phone, on fresh extensions. */
  async function pair(transport: BaresipTransport, answermode: "auto" | "manual") {
    const [be, je] = await Promise.all([s.extension("m"), s.extension("m")]);
    const [bare, js] = await Promise.all([baresip(be, transport, answermode), SipjsPhone.on(s, je)]);
    await s.phones.explain(() => s.registered(be, je));
    return { be, je, bare, js };
  }

  const address = (e: Ext) => `sip:${e.ext}@${s.h.admin.domainName}`;

  it.each(TRANSPORTS)(
    "SIP.js calls a baresip phone registered over %s: answered, put on hold by SIP.js, hung up by SIP.js",
    async (_T, t) => {
      const { be, je, bare, js } = await pair(t, "auto");
      await s.phones.explain(async () => {
        const inviter = await js.call(address(be));
        await sessionState(inviter, SessionState.Established);
        const inc = await bare.event("CALL_ESTABLISHED", (e) => e.direction === "incoming");
        expect(inc.peeruri).toBe(address(je));
        expect(inc.id).toBe(header(js.wire("sent", "INVITE ")[0] ?? "", "Call-ID"));
        // SIP.js authenticated (407) and baresip's answer came back untouched.
        expect(js.wire("received", "SIP/2.0 407 ")).toHaveLength(1);
        expect(SipjsPhone.sdh(inviter).remote[0]).toMatch(/^o=- \d+ \d+ IN IP4 127\.0\.0\.1\r$/m);

        // Hold: the re-INVITE reaches baresip inside the dialog; baresip answers recvonly.
        await until("baresip's ACK", () => firstLines(bare.trace(), "ACK ").length > 0);
        let status = 0;
        await inviter.invite({
          sessionDescriptionHandlerModifiers: [Web.holdModifier],
          requestDelegate: { onAccept: (r) => (status = r.message.statusCode ?? -1) },
        });
        await until("the answer to the hold", () => status !== 0);
        expect(status).toBe(200);
        expect(directionOf(SipjsPhone.sdh(inviter).remote.at(-1) ?? "")).toBe("recvonly");
        await until(
          "the re-INVITE in baresip's trace",
          () => firstLines(bare.trace(), "INVITE ").length === 2,
        );
        expect(directionOf(firstLines(bare.trace(), "INVITE ")[1]?.raw ?? "")).toBe("sendonly");

        await inviter.bye();
        const closed = await bare.event("CALL_CLOSED");
        expect(closed.id).toBe(inc.id);
        expect(closed.param).toBe("Connection reset by peer");
        await sessionState(inviter, SessionState.Terminated);
        expect(firstLines(bare.trace(), "BYE ")).toHaveLength(1);
      });
    },
  );

  it.each(TRANSPORTS)(
    "a baresip phone registered over %s calls SIP.js: answered, put on hold by baresip, hung up by baresip",
    async (_T, t) => {
      const { be, je, bare, js } = await pair(t, "auto");
      await s.phones.explain(async () => {
        await bare.command("dial", address(je));
        const invitation = await js.invitation();
        expect(invitation.remoteIdentity.uri.toString()).toBe(address(be));
        await invitation.accept();
        const out = await bare.event("CALL_ESTABLISHED", (e) => e.direction === "outgoing");
        expect(out.id).toBe(invitation.request.callId);
        await sessionState(invitation, SessionState.Established);
        // baresip authenticated its INVITE (407).
        await until("baresip's second INVITE", () => firstLines(bare.trace(), "INVITE ").length >= 2);
        expect(firstLines(bare.trace(), "INVITE ")[1]?.raw).toMatch(/^Proxy-Authorization: Digest /m);

        // baresip's hold reaches SIP.js, which answers it.
        await until("SIP.js's ACK", () => js.wire("received", "ACK ").length > 0);
        await bare.command("hold");
        await until("the hold at SIP.js", () => js.wire("received", "INVITE ").length === 2);
        await until("SIP.js's answer to it", () => SipjsPhone.sdh(invitation).local.length === 2);
        expect(directionOf(SipjsPhone.sdh(invitation).remote.at(-1) ?? "")).toBe("sendonly");
        expect(directionOf(SipjsPhone.sdh(invitation).local.at(-1) ?? "")).toBe("recvonly");
        await until("the 200 at baresip", () =>
          firstLines(bare.trace(), "SIP/2.0 200 ").some((m) => directionOf(m.raw) === "recvonly"),
        );
        expect(invitation.state).toBe(SessionState.Established);

        await bare.command("hangup");
        await sessionState(invitation, SessionState.Terminated);
        expect(js.wire("received", "BYE ")).toHaveLength(1);
        expect((await bare.event("CALL_CLOSED")).param).toBe("Connection reset by user");
      });
    },
  );

  it("SIP.js gives up before a ringing baresip answers: the CANCEL reaches baresip", async () => {
    const { je, bare, js, be } = await pair("udp", "manual");
    await s.phones.explain(async () => {
      const inviter = await js.call(address(be));
      const incoming = await bare.event("CALL_INCOMING");
      expect(incoming.peeruri).toBe(address(je));
      await until("the 180 at SIP.js", () => js.wire("received", "SIP/2.0 180 ").length > 0);
      await inviter.cancel();
      const closed = await bare.event("CALL_CLOSED");
      expect(closed.id).toBe(incoming.id);
      await sessionState(inviter, SessionState.Terminated);
      await until("the CANCEL in baresip's trace", () => firstLines(bare.trace(), "CANCEL ").length > 0);
      await until("the 487 at SIP.js", () => js.wire("received", "SIP/2.0 487 ").length > 0);
      expect(bare.events.some((e) => e.type === "CALL_ESTABLISHED")).toBe(false);
    });
  });

  it("a baresip phone over TCP gives up before SIP.js answers: the CANCEL reaches SIP.js", async () => {
    const { je, bare, js } = await pair("tcp", "auto");
    await s.phones.explain(async () => {
      await bare.command("dial", address(je));
      const invitation = await js.invitation();
      await bare.event("CALL_RINGING");
      await bare.command("hangup");
      await sessionState(invitation, SessionState.Terminated);
      expect(js.wire("received", "CANCEL ")).toHaveLength(1);
      expect(js.wire("sent", "SIP/2.0 487 ")).toHaveLength(1);
      await until("the 487 in baresip's trace", () => firstLines(bare.trace(), "SIP/2.0 487 ").length > 0);
      expect((await bare.event("CALL_CLOSED")).param).toBe("Connection reset by user");
    });
  });
});
