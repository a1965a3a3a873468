// RFC 3261 §17.1.2 (Figure 6): the non-INVITE client transaction.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { serialize } from "../../../src/sip/message/serializer.js";
import { NonInviteClientTransaction } from "../../../src/sip/transaction/non-invite-client.js";
import { invite, nonInvite, parseRequest, recordingUser, response, statuses, wire } from "./fixtures.js";

function setup(reliable = false, method = "BYE") {
  const w = wire();
  const user = recordingUser();
  const onTerminated = vi.fn();
  const request = nonInvite(method);
  const tx = new NonInviteClientTransaction({ request, send: w.send, reliable, user, onTerminated });
  tx.start();
  return { w, user, onTerminated, request, tx };
}

const bye = (status: number) => response(status, { method: "BYE" });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("non-INVITE client transaction: Trying", () => {
  it("start passes the request to the transport once, as serialized", () => {
    const { w, request, tx } = setup();
    expect(tx.state).toBe("trying");
    expect(w.sent).toHaveLength(1);
    expect(w.sent[0]?.data.equals(serialize(request))).toBe(true);
  });

  it("Timer E doubles the retransmission interval from T1 and caps it at T2 over UDP", () => {
    const { w } = setup();
    vi.advanceTimersByTime(20_000);
    // intervals 500, 1000, 2000, 4000, then T2 = 4000 again and again
    expect(w.times()).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500]);
    const first = w.sent[0]?.data;
    for (const s of w.sent) expect(first && s.data.equals(first)).toBe(true);
  });

  it("no retransmissions over TCP (Timer E is not set on a reliable transport)", () => {
    const { w } = setup(true);
    vi.advanceTimersByTime(31_999);
    expect(w.times()).toEqual([0]);
  });

  it("Timer F reports a timeout after 64*T1 in Trying and terminates", () => {
    const { w, user, onTerminated, tx } = setup();
    vi.advanceTimersByTime(31_999);
    expect(user.onTimeout).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(user.onTimeout.mock.calls).toEqual([[tx]]);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
    const sent = w.sent.length;
    vi.advanceTimersByTime(60_000);
    expect(w.sent.length).toBe(sent);
  });

  it("Timer F runs over TCP too", () => {
    const { user, tx } = setup(true);
    vi.advanceTimersByTime(32_000);
    expect(user.onTimeout).toHaveBeenCalledTimes(1);
    expect(tx.state).toBe("terminated");
  });

  it("a final response in Trying moves to Completed and is passed up", () => {
    const { user, tx } = setup();
    const ok = bye(200);
    tx.receive(ok);
    expect(tx.state).toBe("completed");
    expect(user.onResponse.mock.calls).toEqual([[ok, tx]]);
  });

  it("a non-2xx final in Trying moves to Completed and is passed up, with no ACK", () => {
    const { w, user, tx } = setup();
    tx.receive(bye(481));
    expect(tx.state).toBe("completed");
    expect(statuses(user)).toEqual([481]);
    expect(w.sent).toHaveLength(1);
  });

  it("a CANCEL is a non-INVITE transaction like any other", () => {
    const { w, user, tx } = setup(false, "CANCEL");
    expect(parseRequest(w.sent[0]?.data ?? "").method).toBe("CANCEL");
    tx.receive(response(200, { method: "CANCEL" }));
    expect(statuses(user)).toEqual([200]);
  });

  it("the constructor refuses an INVITE and an ACK", () => {
    const w = wire();
    const user = recordingUser();
    expect(
      () => new NonInviteClientTransaction({ request: invite(), send: w.send, reliable: false, user }),
    ).toThrow(TypeError);
    const ack = nonInvite("ACK");
    expect(
      () => new NonInviteClientTransaction({ request: ack, send: w.send, reliable: false, user }),
    ).toThrow(TypeError);
  });

  it("a transaction cannot be started twice", () => {
    const { tx } = setup();
    expect(() => tx.start()).toThrow();
  });
});

describe("non-INVITE client transaction: Proceeding", () => {
  it("a 1xx moves Trying to Proceeding and is passed up; further 1xx are passed up too", () => {
    const { user, tx } = setup();
    tx.receive(bye(100));
    expect(tx.state).toBe("proceeding");
    tx.receive(bye(180));
    expect(statuses(user)).toEqual([100, 180]);
    expect(tx.state).toBe("proceeding");
  });

  it("Timer E fires at T2 intervals in Proceeding", () => {
    const { w, tx } = setup();
    vi.advanceTimersByTime(600); // retransmitted at 500; Timer E next due at 1500
    tx.receive(bye(100));
    vi.advanceTimersByTime(14_400); // to 15000
    // the pending Timer E fires at 1500 and is reset with T2 from then on
    expect(w.times()).toEqual([0, 500, 1500, 5500, 9500, 13500]);
  });

  it("Timer F reports a timeout in Proceeding too", () => {
    const { user, onTerminated, tx } = setup();
    tx.receive(bye(100));
    vi.advanceTimersByTime(32_000);
    expect(user.onTimeout).toHaveBeenCalledTimes(1);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });

  it("a final response in Proceeding moves to Completed and is passed up", () => {
    const { user, tx } = setup();
    tx.receive(bye(100));
    tx.receive(bye(404));
    expect(tx.state).toBe("completed");
    expect(statuses(user)).toEqual([100, 404]);
  });
});

describe("non-INVITE client transaction: Completed", () => {
  it("response retransmissions in Completed are absorbed, not passed up", () => {
    const { w, user, tx } = setup();
    tx.receive(bye(200));
    tx.receive(bye(200));
    tx.receive(bye(100));
    tx.receive(bye(500));
    expect(statuses(user)).toEqual([200]);
    expect(w.sent).toHaveLength(1);
  });

  it("Completed stops Timer E and Timer F", () => {
    const { w, user, tx } = setup();
    vi.advanceTimersByTime(600);
    tx.receive(bye(200));
    vi.advanceTimersByTime(4_000); // inside Timer K
    expect(w.times()).toEqual([0, 500]);
    expect(user.onTimeout).not.toHaveBeenCalled();
  });

  it("Timer K keeps Completed T4 over UDP, then terminates", () => {
    const { onTerminated, tx } = setup();
    tx.receive(bye(200));
    vi.advanceTimersByTime(4_999);
    expect(tx.state).toBe("completed");
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe("terminated");
    expect(onTerminated.mock.calls).toEqual([[tx]]);
  });

  it("Timer K is zero over TCP", () => {
    const { onTerminated, tx } = setup(true);
    tx.receive(bye(200));
    vi.advanceTimersByTime(0);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });
});

describe("non-INVITE client transaction: Terminated", () => {
  it("cancelTimersAndTerminate stops every timer and reports termination once", () => {
    const { w, user, onTerminated, tx } = setup();
    tx.cancelTimersAndTerminate();
    tx.cancelTimersAndTerminate();
    vi.advanceTimersByTime(60_000);
    expect(tx.state).toBe("terminated");
    expect(w.times()).toEqual([0]);
    expect(user.onTimeout).not.toHaveBeenCalled();
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });

  it("responses after termination are ignored", () => {
    const { user, tx } = setup();
    tx.cancelTimersAndTerminate();
    tx.receive(bye(100));
    tx.receive(bye(200));
    expect(user.onResponse).not.toHaveBeenCalled();
  });
});
