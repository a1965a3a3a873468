// RFC 3261 §17.1.1 (Figure 5) and RFC 6026 §7.2: the INVITE client transaction.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { serialize } from "../../../src/sip/message/serializer.js";
import { InviteClientTransaction } from "../../../src/sip/transaction/invite-client.js";
import {
  CALL_ID,
  FROM,
  invite,
  nonInvite,
  parseRequest,
  REQUEST_URI,
  recordingUser,
  response,
  statuses,
  TOP_VIA,
  wire,
} from "./fixtures.js";

function setup(reliable = false) {
  const w = wire();
  const user = recordingUser();
  const onTerminated = vi.fn();
  const request = invite();
  const tx = new InviteClientTransaction({ request, send: w.send, reliable, user, onTerminated });
  tx.start();
  return { w, user, onTerminated, request, tx };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("INVITE client transaction: Calling", () => {
  it("start passes the INVITE to the transport once, as serialized", () => {
    const { w, request, tx } = setup();
    expect(tx.state).toBe("calling");
    expect(w.sent).toHaveLength(1);
    expect(w.sent[0]?.data.equals(serialize(request))).toBe(true);
  });

  it("Timer A doubles the INVITE retransmission interval over UDP, with no T2 cap", () => {
    const { w, tx } = setup();
    vi.advanceTimersByTime(31_999);
    // T1, 2*T1, 4*T1 ... 16*T1 = 8 s and 32*T1 = 16 s: an INVITE's interval is not capped at T2.
    expect(w.times()).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(tx.state).toBe("calling");
    const first = w.sent[0]?.data;
    for (const s of w.sent) expect(first && s.data.equals(first)).toBe(true);
  });

  it("no retransmissions over TCP (Timer A is not started on a reliable transport)", () => {
    const { w } = setup(true);
    vi.advanceTimersByTime(31_999);
    expect(w.times()).toEqual([0]);
  });

  it("Timer B reports a timeout after 64*T1 in Calling and terminates without an ACK", () => {
    const { w, user, onTerminated, tx } = setup();
    vi.advanceTimersByTime(31_999);
    expect(user.onTimeout).not.toHaveBeenCalled();
    const sentBefore = w.sent.length;
    vi.advanceTimersByTime(1);
    expect(user.onTimeout).toHaveBeenCalledTimes(1);
    expect(user.onTimeout.mock.calls[0]).toEqual([tx]);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
    expect(w.sent.length).toBe(sentBefore);
    vi.advanceTimersByTime(120_000);
    expect(w.sent.length).toBe(sentBefore);
  });

  it("Timer B runs over TCP too", () => {
    const { user, tx } = setup(true);
    vi.advanceTimersByTime(32_000);
    expect(user.onTimeout).toHaveBeenCalledTimes(1);
    expect(tx.state).toBe("terminated");
  });

  it("a transaction cannot be started twice", () => {
    const { tx } = setup();
    expect(() => tx.start()).toThrow();
  });

  it("the constructor refuses a request that is not an INVITE", () => {
    const w = wire();
    expect(
      () =>
        new InviteClientTransaction({
          request: nonInvite(),
          send: w.send,
          reliable: false,
          user: recordingUser(),
        }),
    ).toThrow(TypeError);
  });

  it("the constructor refuses an INVITE without a Via", () => {
    const request = invite();
    request.headers.remove("Via");
    expect(
      () =>
        new InviteClientTransaction({ request, send: wire().send, reliable: false, user: recordingUser() }),
    ).toThrow(TypeError);
  });
});

describe("INVITE client transaction: Proceeding", () => {
  it("a 1xx moves Calling to Proceeding and is passed up", () => {
    const { user, tx } = setup();
    const ringing = response(180);
    tx.receive(ringing);
    expect(tx.state).toBe("proceeding");
    expect(user.onResponse).toHaveBeenCalledTimes(1);
    expect(user.onResponse.mock.calls[0]).toEqual([ringing, tx]);
  });

  it("the client transaction SHOULD NOT retransmit the request any longer in Proceeding", () => {
    const { w, tx } = setup();
    vi.advanceTimersByTime(600); // one retransmission
    tx.receive(response(100, { toTag: null }));
    vi.advanceTimersByTime(60_000);
    expect(w.times()).toEqual([0, 500]);
  });

  it("any further provisional responses are passed up in Proceeding", () => {
    const { user, tx } = setup();
    tx.receive(response(100, { toTag: null }));
    tx.receive(response(180));
    tx.receive(response(183));
    tx.receive(response(180));
    expect(statuses(user)).toEqual([100, 180, 183, 180]);
    expect(tx.state).toBe("proceeding");
  });

  it("Timer B does not fire once in Proceeding (the TU's Timer C takes over)", () => {
    const { user, tx } = setup();
    tx.receive(response(180));
    vi.advanceTimersByTime(10 * 60_000);
    expect(user.onTimeout).not.toHaveBeenCalled();
    expect(tx.state).toBe("proceeding");
  });
});

describe("INVITE client transaction: Accepted (RFC 6026)", () => {
  it("a 2xx moves the INVITE client transaction to Accepted and is passed up", () => {
    const { user, tx } = setup();
    const ok = response(200);
    tx.receive(ok);
    expect(tx.state).toBe("accepted");
    expect(user.onResponse.mock.calls).toEqual([[ok, tx]]);
  });

  it("a 2xx in Proceeding moves to Accepted as well", () => {
    const { user, tx } = setup();
    tx.receive(response(180));
    tx.receive(response(200));
    expect(tx.state).toBe("accepted");
    expect(statuses(user)).toEqual([180, 200]);
  });

  it("the client transaction generates no ACK for a 2xx, and stops retransmitting", () => {
    const { w, tx } = setup();
    tx.receive(response(200));
    tx.receive(response(200));
    vi.advanceTimersByTime(40_000);
    expect(w.times()).toEqual([0]);
  });

  it("retransmitted and forked 2xx received in Accepted are passed up too", () => {
    const { user, tx } = setup();
    tx.receive(response(200, { toTag: "bob-1" }));
    tx.receive(response(200, { toTag: "bob-1" }));
    tx.receive(response(200, { toTag: "carol-2" }));
    expect(user.onResponse.mock.calls.map(([r]) => r.headers.get("To"))).toEqual([
      "<sip:bob@example.com>;tag=bob-1",
      "<sip:bob@example.com>;tag=bob-1",
      "<sip:bob@example.com>;tag=carol-2",
    ]);
    expect(tx.state).toBe("accepted");
  });

  it("provisional and non-2xx final responses in Accepted are discarded", () => {
    const { w, user, tx } = setup();
    tx.receive(response(200));
    tx.receive(response(180));
    tx.receive(response(486));
    expect(statuses(user)).toEqual([200]);
    expect(w.sent).toHaveLength(1); // no ACK either
    expect(tx.state).toBe("accepted");
  });

  it("Timer B does not report a timeout once Accepted", () => {
    const { user, tx } = setup();
    tx.receive(response(200));
    vi.advanceTimersByTime(32_000);
    expect(user.onTimeout).not.toHaveBeenCalled();
  });

  it("Timer M (64*T1) moves Accepted to Terminated", () => {
    const { onTerminated, tx } = setup();
    vi.advanceTimersByTime(1000);
    tx.receive(response(200));
    vi.advanceTimersByTime(31_999);
    expect(tx.state).toBe("accepted");
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });

  it("Timer M runs over TCP too (further 2xx may come from other branches)", () => {
    const { user, tx } = setup(true);
    tx.receive(response(200));
    vi.advanceTimersByTime(20_000);
    tx.receive(response(200, { toTag: "carol-2" }));
    expect(statuses(user)).toEqual([200, 200]);
    vi.advanceTimersByTime(12_000);
    expect(tx.state).toBe("terminated");
  });
});

describe("INVITE client transaction: Completed", () => {
  it("a 300-699 moves to Completed, is passed up, and the ACK is sent", () => {
    const { w, user, tx } = setup();
    const busy = response(486);
    tx.receive(busy);
    expect(tx.state).toBe("completed");
    expect(user.onResponse.mock.calls).toEqual([[busy, tx]]);
    expect(w.sent).toHaveLength(2);
    expect(parseRequest(w.sent[1]?.data ?? "").method).toBe("ACK");
  });

  it("a 300-699 in Proceeding moves to Completed as well", () => {
    const { w, user, tx } = setup();
    tx.receive(response(180));
    tx.receive(response(302));
    expect(tx.state).toBe("completed");
    expect(statuses(user)).toEqual([180, 302]);
    expect(w.sent).toHaveLength(2);
  });

  it("the ACK carries the INVITE's Request-URI, Call-ID, From, CSeq number, top Via and Routes, and the response's To (§17.1.1.3)", () => {
    const { w, tx } = setup();
    tx.receive(response(603, { toTag: "decline-1" }));
    const ack = parseRequest(w.sent[1]?.data ?? "");
    expect(ack.method).toBe("ACK");
    expect(ack.uri).toBe(REQUEST_URI);
    expect(ack.headers.get("Call-ID")).toBe(CALL_ID);
    expect(ack.headers.get("From")).toBe(FROM);
    expect(ack.headers.get("To")).toBe("<sip:bob@example.com>;tag=decline-1");
    expect(ack.headers.get("CSeq")).toBe("314159 ACK");
    // "The ACK MUST contain a single Via header field, and this MUST be equal to the top Via
    // header field of the original request."
    expect(ack.headers.getAll("Via")).toEqual([TOP_VIA]);
    expect(ack.headers.getAll("Route")).toEqual([
      "<sip:edge1.example.net;lr>",
      "<sip:edge2.example.net;lr>",
      "<sip:edge3.example.net;lr>",
    ]);
    expect(ack.headers.get("Max-Forwards")).toBe("70");
    expect(ack.headers.get("Content-Length")).toBe("0");
    expect(ack.body.length).toBe(0);
    for (const absent of ["Contact", "Content-Type", "Record-Route"])
      expect(ack.headers.has(absent)).toBe(false);
  });

  it("the ACK is generated even over a reliable transport", () => {
    const { w, tx } = setup(true);
    tx.receive(response(404));
    expect(w.sent).toHaveLength(2);
    expect(parseRequest(w.sent[1]?.data ?? "").method).toBe("ACK");
  });

  it("retransmitted non-2xx finals get the ACK again but reach the TU once", () => {
    const { w, user, tx } = setup();
    tx.receive(response(486));
    tx.receive(response(486));
    tx.receive(response(486));
    expect(statuses(user)).toEqual([486]);
    expect(w.sent).toHaveLength(4);
    const ack = w.sent[1]?.data;
    expect(ack && w.sent[2]?.data.equals(ack)).toBe(true);
    expect(ack && w.sent[3]?.data.equals(ack)).toBe(true);
  });

  it("provisional and 2xx responses in Completed are discarded", () => {
    const { w, user, tx } = setup();
    tx.receive(response(486));
    tx.receive(response(180));
    tx.receive(response(200));
    expect(statuses(user)).toEqual([486]);
    expect(w.sent).toHaveLength(2);
  });

  it("Completed stops Timer A and Timer B", () => {
    const { w, user, tx } = setup();
    tx.receive(response(503));
    vi.advanceTimersByTime(31_999);
    expect(w.times()).toEqual([0, 0]);
    expect(user.onTimeout).not.toHaveBeenCalled();
  });

  it("Timer D keeps Completed 32 s over UDP, then terminates", () => {
    const { onTerminated, tx } = setup();
    tx.receive(response(486));
    vi.advanceTimersByTime(31_999);
    expect(tx.state).toBe("completed");
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });

  it("Timer D is zero over TCP", () => {
    const { onTerminated, tx } = setup(true);
    tx.receive(response(486));
    vi.advanceTimersByTime(0);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });
});

describe("INVITE client transaction: Terminated", () => {
  it("cancelTimersAndTerminate stops every timer and reports termination once", () => {
    const { w, user, onTerminated, tx } = setup();
    tx.cancelTimersAndTerminate();
    tx.cancelTimersAndTerminate();
    vi.advanceTimersByTime(120_000);
    expect(tx.state).toBe("terminated");
    expect(w.times()).toEqual([0]);
    expect(user.onTimeout).not.toHaveBeenCalled();
    expect(onTerminated).toHaveBeenCalledTimes(1);
    expect(onTerminated.mock.calls[0]).toEqual([tx]);
  });

  it("responses after termination are ignored", () => {
    const { w, user, tx } = setup();
    tx.cancelTimersAndTerminate();
    tx.receive(response(180));
    tx.receive(response(200));
    tx.receive(response(486));
    expect(user.onResponse).not.toHaveBeenCalled();
    expect(w.sent).toHaveLength(1);
  });

  it("onTerminated fires once when Timer D ends a transaction the owner also cancels", () => {
    const { onTerminated, tx } = setup();
    tx.receive(response(486));
    vi.advanceTimersByTime(32_000);
    tx.cancelTimersAndTerminate();
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });
});
