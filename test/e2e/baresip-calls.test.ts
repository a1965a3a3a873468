// Calls between two real phones (baresip, see ./baresip.ts) through the proxy (issue #10), each
// set up as the README says a user sets up a phone: the extension at the customer's SIP domain,
// its password, sipext as outbound proxy. Every test creates two fresh extensions through the
// API, starts a caller and a callee, waits until both show in `GET /v1.0/extensions/{id}/contacts`,
// and drives the call over baresip's ctrl_tcp: `dial`, `hangup`. What is checked is what the
// phones themselves report (their UA events: CALL_RINGING, CALL_ESTABLISHED, CALL_CLOSED with its
// reason) and the SIP they traced (-s): the callee was reached, the BYE or CANCEL reached it
// through sipext, the caller got the callee's answer.
import { describe, expect, it } from "vitest";
import { DATABASES } from "../helpers/harness.js";
import { until } from "../sip/raw-sip.js";
import { type Baresip, type BaresipTransport, startBaresip, type TracedMessage } from "./baresip.js";
import { type Ext, phoneSuite } from "./phones.js";
import { directionOf } from "./sipjs-phone.js";

const TRANSPORTS: Array<[string, BaresipTransport]> = [
  ["UDP", "udp"],
  ["TCP", "tcp"],
];

const callIdOf = (m: TracedMessage) => /^(?:Call-ID|i):\s*(\S+)/im.exec(m.raw)?.[1];
const saw = (ms: TracedMessage[], start: string) => ms.some((m) => m.firstLine.startsWith(start));
const cseqOf = (m: TracedMessage) => /^CSeq:\s*(\d+ \w+)/im.exec(m.raw)?.[1] ?? "";

describe.each(DATABASES)("calls between baresip phones on %s", (kind) => {
  const s = phoneSuite(kind);

  /** sipext as the phones see it, in their SIP trace */
  const server = () => `127.0.0.1:${s.h.server.sip.port}`;
  /**
   * What a phone received from sipext / sent to sipext; a retransmission over UDP (the same bytes
   * again, as a loaded machine may provoke) counts once.
   */
  const once = (ms: TracedMessage[]) => [...new Map(ms.map((m) => [m.raw, m])).values()];
  const received = (p: Baresip) => once(p.trace().filter((m) => m.src === server()));
  const sent = (p: Baresip) => once(p.trace().filter((m) => m.dst === server()));

  /**
   * A caller and a callee, both registered over `transport`; the callee answers at once
   * (`answermode=auto`) or rings until told (`manual`).
   */
  async function twoPhones(transport: BaresipTransport, answermode: "auto" | "manual") {
    const [a, b] = await Promise.all([s.extension("b"), s.extension("b")]);
    const account = (e: Ext) => ({
      ext: e.ext,
      password: e.password,
      domain: s.h.admin.domainName,
      sipPort: s.h.server.sip.port,
      transport,
    });
    const [caller, callee] = await Promise.all([
      startBaresip(s.phones, { ...account(a), label: "caller" }),
      startBaresip(s.phones, { ...account(b), answermode, label: "callee" }),
    ]);
    await s.phones.explain(() => s.registered(a, b));
    return { a, b, caller, callee };
  }

  /**
   * The call is up on both ends (the same Call-ID: the proxy does not change it); then `hangsUp`
   * ends it and the other phone sees it closed by a BYE that came through sipext.
   */
  async function talkThenHangUp(caller: Baresip, callee: Baresip, a: Ext, hangsUp: "caller" | "callee") {
    const out = await caller.event("CALL_ESTABLISHED", (e) => e.direction === "outgoing");
    const inc = await callee.event("CALL_ESTABLISHED", (e) => e.direction === "incoming");
    expect(inc.id).toBe(out.id);
    expect(inc.peeruri).toBe(`sip:${a.ext}@${s.h.admin.domainName}`);
    // baresip itself says so in its output too
    await callee.line(/Call established: sip:/);

    const [ending, other] = hangsUp === "caller" ? [caller, callee] : [callee, caller];
    await ending.command("hangup");
    const closed = await other.event("CALL_CLOSED");
    expect(closed.id).toBe(out.id);
    expect(closed.param).toBe("Connection reset by peer");
    const mine = await ending.event("CALL_CLOSED");
    expect(mine.param).toBe("Connection reset by user");

    // The BYE went from the one that hung up to sipext, and from sipext to the other, which said
    // 200 back the same way. (The trace comes on baresip's stdout, the events on ctrl_tcp: the
    // trace may lag behind an event, hence the wait.)
    const byes = (ms: TracedMessage[]) =>
      ms.filter((m) => m.firstLine.startsWith("BYE ") && callIdOf(m) === out.id);
    const oks = (ms: TracedMessage[]) =>
      ms.filter((m) => m.firstLine === "SIP/2.0 200 OK" && callIdOf(m) === out.id && / BYE$/.test(cseqOf(m)));
    await until(
      "the BYE and its 200 in both traces",
      () =>
        byes(sent(ending)).length > 0 &&
        byes(received(other)).length > 0 &&
        oks(sent(other)).length > 0 &&
        oks(received(ending)).length > 0,
    );
    const [byeOut, byeIn] = [byes(sent(ending)), byes(received(other))];
    expect(byeOut).toHaveLength(1);
    expect(byeIn).toHaveLength(1);
    expect(cseqOf(byeIn[0] as TracedMessage)).toBe(cseqOf(byeOut[0] as TracedMessage));
    expect(oks(sent(other))).toHaveLength(1);
    // Neither phone sent a BYE of its own besides that one.
    expect(sent(other).filter((m) => m.firstLine.startsWith("BYE "))).toEqual([]);
  }

  it.each(TRANSPORTS)(
    "an extension calls another over %s: answered automatically, hung up by the caller",
    async (_T, t) => {
      const { a, b, caller, callee } = await twoPhones(t, "auto");
      await s.phones.explain(async () => {
        await caller.command("dial", `sip:${b.ext}@${s.h.admin.domainName}`);
        await talkThenHangUp(caller, callee, a, "caller");
        // The caller authenticated its INVITE (407, then the INVITE again with Proxy-Authorization).
        const invites = sent(caller).filter((m) => m.firstLine.startsWith("INVITE "));
        expect(invites).toHaveLength(2);
        expect(invites[1]?.raw).toMatch(/^Proxy-Authorization: Digest /m);
        expect(saw(received(caller), "SIP/2.0 407 ")).toBe(true);
        expect(callee.trace().every((m) => m.transport === t.toUpperCase())).toBe(true);
      });
    },
  );

  it.each(TRANSPORTS)(
    "a phone calls an extension's direct address over %s without credentials; the callee hangs up",
    async (_T, t) => {
      const { a, b, caller, callee } = await twoPhones(t, "auto");
      await s.phones.explain(async () => {
        await caller.command("dial", `sip:direct.${b.hash}@${s.h.config.directDomain}`);
        await talkThenHangUp(caller, callee, a, "callee");
        // No challenge: one INVITE, never a 407.
        expect(sent(caller).filter((m) => m.firstLine.startsWith("INVITE "))).toHaveLength(1);
        expect(saw(received(caller), "SIP/2.0 407 ")).toBe(false);
        const invite = received(callee).find((m) => m.firstLine.startsWith("INVITE "));
        expect(invite?.raw).toMatch(new RegExp(`^To: <sip:direct\\.${b.hash}@`, "m"));
      });
    },
  );

  it.each(TRANSPORTS)(
    "a phone holds and resumes a call over %s: both re-INVITEs reach the other phone, which answers them, and the call stays up",
    async (_T, t) => {
      const { a, b, caller, callee } = await twoPhones(t, "auto");
      await s.phones.explain(async () => {
        await caller.command("dial", `sip:${b.ext}@${s.h.admin.domainName}`);
        const out = await caller.event("CALL_ESTABLISHED", (e) => e.direction === "outgoing");
        await callee.event("CALL_ESTABLISHED", (e) => e.direction === "incoming");

        /** The INVITEs of the call the callee received, and the 200s to them the caller received. */
        const invitesIn = () =>
          received(callee).filter((m) => m.firstLine.startsWith("INVITE ") && callIdOf(m) === out.id);
        const answersBack = () =>
          received(caller).filter(
            (m) =>
              m.firstLine.startsWith("SIP/2.0 200 ") && callIdOf(m) === out.id && / INVITE$/.test(cseqOf(m)),
          );
        const exchange = async (n: number) => {
          await until(`re-INVITE #${n} and its 200 through sipext`, () => answersBack().length > n);
          const invite = invitesIn()[n] as TracedMessage;
          const answer = answersBack()[n] as TracedMessage;
          expect(cseqOf(answer)).toBe(cseqOf(invite));
          // inside the dialog: the callee's tag in To, sent to its Contact
          expect(invite.raw).toMatch(/^To: .*;tag=/m);
          expect(invite.firstLine).toMatch(new RegExp(`^INVITE sip:${b.ext}-0x[0-9a-f]+@127\\.0\\.0\\.1:`));
          return [directionOf(invite.raw), directionOf(answer.raw)];
        };

        await caller.command("hold");
        expect(await exchange(1)).toEqual(["sendonly", "recvonly"]);
        await caller.command("resume");
        expect(await exchange(2)).toEqual(["sendrecv", "sendrecv"]);
        // The caller ACKed each answer, and the ACKs reached the callee.
        await until(
          "the ACKs at the callee",
          () =>
            received(callee).filter((m) => m.firstLine.startsWith("ACK ") && callIdOf(m) === out.id).length >=
            3,
        );
        // Neither phone ended the call on the way.
        expect([...caller.events, ...callee.events].some((e) => e.type === "CALL_CLOSED")).toBe(false);
        await talkThenHangUp(caller, callee, a, "callee");
      });
    },
  );

  /** A call from the caller to the callee's extension, ringing on the callee (`manual`). */
  async function ringingCall(t: BaresipTransport) {
    const { b, caller, callee } = await twoPhones(t, "manual");
    const incoming = await s.phones.explain(async () => {
      await caller.command("dial", `sip:${b.ext}@${s.h.admin.domainName}`);
      await caller.event("CALL_RINGING");
      return callee.event("CALL_INCOMING");
    });
    return { caller, callee, incoming };
  }

  /**
   * The callee's final answer `status` went callee → sipext → caller, and each hop's INVITE
   * transaction ended: the caller ACKed sipext's answer, sipext the callee's.
   */
  const finalAndAcks = (caller: Baresip, callee: Baresip, status: number) =>
    until(
      `the ${status} and the ACKs in the traces`,
      () =>
        saw(sent(callee), `SIP/2.0 ${status} `) &&
        saw(received(caller), `SIP/2.0 ${status} `) &&
        saw(sent(caller), "ACK ") &&
        saw(received(callee), "ACK "),
    );

  it.each(TRANSPORTS)("a phone that declines a call over %s: the caller gets its 486", async (_T, t) => {
    const { caller, callee, incoming } = await ringingCall(t);
    await s.phones.explain(async () => {
      // An incoming call not answered yet: "hangup" rejects it (baresip sends 486 Rejected).
      await callee.command("hangup");
      const closed = await caller.event("CALL_CLOSED");
      expect(closed.id).toBe(incoming.id);
      // The callee's own answer, reason phrase and all, relayed by sipext.
      expect(closed.param).toBe("486 Rejected");
      expect(caller.events.some((e) => e.type === "CALL_ESTABLISHED")).toBe(false);
      await finalAndAcks(caller, callee, 486);
      expect(received(caller).filter((m) => m.firstLine.startsWith("SIP/2.0 486 "))).toHaveLength(1);
    });
  });

  it.each(TRANSPORTS)(
    "a caller that gives up over %s before the answer: the ringing phone gets the CANCEL",
    async (_T, t) => {
      const { caller, callee, incoming } = await ringingCall(t);
      await s.phones.explain(async () => {
        await caller.command("hangup");
        const closed = await callee.event("CALL_CLOSED");
        expect(closed.id).toBe(incoming.id);
        expect(closed.param).toBe("Connection reset by peer");
        expect(callee.events.some((e) => e.type === "CALL_ESTABLISHED")).toBe(false);
        // The CANCEL went caller → sipext → callee, which ended its INVITE with 487.
        await until("the CANCEL at the callee", () => saw(received(callee), "CANCEL "));
        await finalAndAcks(caller, callee, 487);
        expect(sent(caller).filter((m) => m.firstLine.startsWith("CANCEL "))).toHaveLength(1);
        const cancels = received(callee).filter((m) => m.firstLine.startsWith("CANCEL "));
        expect(cancels).toHaveLength(1);
        expect(callIdOf(cancels[0] as TracedMessage)).toBe(incoming.id);
      });
    },
  );
});
