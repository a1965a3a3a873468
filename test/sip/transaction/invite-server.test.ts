// RFC 3261 §17.2.1 (Figure 7) and RFC 6026 §7.1: the INVITE server transaction.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { serialize } from "../../../src/sip/message/serializer.js";
import { InviteServerTransaction } from "../../../src/sip/transaction/invite-server.js";
import { response, wire } from "./fixtures.js";

function setup(reliable = false) {
  const w = wire();
  const onTerminated = vi.fn();
  const onAckTimeout = vi.fn();
  const tx = new InviteServerTransaction({ send: w.send, reliable, onTerminated, onAckTimeout });
  return { w, onTerminated, onAckTimeout, tx };
}

/** The bytes of a response to the INVITE; `tag` tells apart two responses of the same status. */
const bytes = (status: number, tag?: string): Buffer =>
  serialize(response(status, status === 100 ? { toTag: null } : tag ? { toTag: tag } : {}));

/** Which of the given buffers each sent message is, by index. */
const which = (w: ReturnType<typeof wire>, known: Buffer[]): number[] =>
  w.sent.map((s) => known.findIndex((k) => k.equals(s.data)));

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("INVITE server transaction: Proceeding", () => {
  it("a server transaction is constructed in Proceeding and sends nothing by itself", () => {
    const { w, tx } = setup();
    expect(tx.state).toBe("proceeding");
    vi.advanceTimersByTime(60_000);
    expect(w.sent).toHaveLength(0);
  });

  it("each provisional from the TU is sent and keeps the transaction in Proceeding", () => {
    const { w, tx } = setup();
    const trying = bytes(100);
    const ringing = bytes(180);
    expect(tx.respond(100, trying)).toBe(true);
    expect(tx.respond(180, ringing)).toBe(true);
    expect(tx.state).toBe("proceeding");
    expect(which(w, [trying, ringing])).toEqual([0, 1]);
  });

  it("provisionals are not retransmitted by the transaction", () => {
    const { w, tx } = setup();
    tx.respond(180, bytes(180));
    vi.advanceTimersByTime(60_000);
    expect(w.sent).toHaveLength(1);
  });

  it("a retransmitted INVITE in Proceeding gets the most recent provisional again", () => {
    const { w, tx } = setup();
    const trying = bytes(100);
    const ringing = bytes(180);
    tx.respond(100, trying);
    tx.receiveRequestRetransmission();
    tx.respond(180, ringing);
    tx.receiveRequestRetransmission();
    tx.receiveRequestRetransmission();
    expect(which(w, [trying, ringing])).toEqual([0, 0, 1, 1, 1]);
  });

  it("a retransmitted INVITE before any provisional is absorbed silently", () => {
    const { w, tx } = setup();
    tx.receiveRequestRetransmission();
    expect(w.sent).toHaveLength(0);
    expect(tx.state).toBe("proceeding");
  });

  it("an ACK in Proceeding is not absorbed", () => {
    const { tx } = setup();
    expect(tx.receiveAck()).toBe(false);
    expect(tx.state).toBe("proceeding");
  });
});

describe("INVITE server transaction: Accepted (RFC 6026)", () => {
  it("a 2xx from the TU is sent and moves the transaction to Accepted", () => {
    const { w, tx } = setup();
    const ok = bytes(200);
    tx.respond(180, bytes(180));
    expect(tx.respond(200, ok)).toBe(true);
    expect(tx.state).toBe("accepted");
    expect(w.sent[1]?.data.equals(ok)).toBe(true);
  });

  it("the transaction never retransmits a 2xx on its own (the TU does, §13.3.1.4)", () => {
    const { w, tx } = setup();
    tx.respond(200, bytes(200));
    vi.advanceTimersByTime(31_999);
    expect(w.sent).toHaveLength(1);
  });

  it("retransmitted INVITEs in Accepted are absorbed without resending anything", () => {
    const { w, tx } = setup();
    tx.respond(180, bytes(180));
    tx.respond(200, bytes(200));
    tx.receiveRequestRetransmission();
    tx.receiveRequestRetransmission();
    expect(w.sent).toHaveLength(2);
    expect(tx.state).toBe("accepted");
  });

  it("the TU may send further 2xx through the transaction while Accepted", () => {
    const { w, tx } = setup();
    const bob = bytes(200, "bob-1");
    const carol = bytes(200, "carol-2");
    tx.respond(200, bob);
    expect(tx.respond(200, bob)).toBe(true);
    expect(tx.respond(200, carol)).toBe(true);
    expect(which(w, [bob, carol])).toEqual([0, 0, 1]);
    expect(tx.state).toBe("accepted");
  });

  it("an ACK in Accepted is not absorbed: the ACK for a 2xx belongs to the TU", () => {
    const { tx } = setup();
    tx.respond(200, bytes(200));
    expect(tx.receiveAck()).toBe(false);
    expect(tx.state).toBe("accepted");
  });

  it("Timer L (64*T1) moves Accepted to Terminated", () => {
    const { onTerminated, tx } = setup();
    tx.respond(200, bytes(200));
    vi.advanceTimersByTime(31_999);
    expect(tx.state).toBe("accepted");
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });

  it("Timer L runs over TCP too", () => {
    const { tx } = setup(true);
    tx.respond(200, bytes(200));
    vi.advanceTimersByTime(31_999);
    expect(tx.state).toBe("accepted");
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe("terminated");
  });
});

describe("INVITE server transaction: Completed", () => {
  it("a 300-699 from the TU is sent and moves the transaction to Completed", () => {
    const { w, tx } = setup();
    const busy = bytes(486);
    expect(tx.respond(486, busy)).toBe(true);
    expect(tx.state).toBe("completed");
    expect(w.sent[0]?.data.equals(busy)).toBe(true);
  });

  it("Timer G retransmits the final at T1, doubling up to T2, over UDP", () => {
    const { w, tx } = setup();
    const busy = bytes(486);
    tx.respond(486, busy);
    vi.advanceTimersByTime(20_000);
    // intervals 500, 1000, 2000, 4000, then T2 = 4000
    expect(w.times()).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500]);
    for (const s of w.sent) expect(s.data.equals(busy)).toBe(true);
  });

  it("no retransmissions over TCP (Timer G is not set on a reliable transport)", () => {
    const { w, tx } = setup(true);
    tx.respond(486, bytes(486));
    vi.advanceTimersByTime(31_999);
    expect(w.times()).toEqual([0]);
  });

  it("a retransmitted INVITE in Completed gets the final again", () => {
    const { w, tx } = setup();
    const ringing = bytes(180);
    const busy = bytes(486);
    tx.respond(180, ringing);
    tx.respond(486, busy);
    tx.receiveRequestRetransmission();
    expect(which(w, [ringing, busy])).toEqual([0, 1, 1]);
  });

  it("Timer H reports a missing ACK after 64*T1 and terminates", () => {
    const { w, onAckTimeout, onTerminated, tx } = setup();
    tx.respond(603, bytes(603));
    vi.advanceTimersByTime(31_999);
    expect(onAckTimeout).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onAckTimeout).toHaveBeenCalledTimes(1);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
    const sent = w.sent.length;
    vi.advanceTimersByTime(60_000);
    expect(w.sent.length).toBe(sent);
  });

  it("Timer H runs over TCP too", () => {
    const { onAckTimeout, tx } = setup(true);
    tx.respond(404, bytes(404));
    vi.advanceTimersByTime(32_000);
    expect(onAckTimeout).toHaveBeenCalledTimes(1);
    expect(tx.state).toBe("terminated");
  });

  it("an ACK in Completed is absorbed, moves to Confirmed and stops Timer G and Timer H", () => {
    const { w, onAckTimeout, tx } = setup();
    tx.respond(486, bytes(486));
    vi.advanceTimersByTime(600); // one retransmission
    expect(tx.receiveAck()).toBe(true);
    expect(tx.state).toBe("confirmed");
    vi.advanceTimersByTime(4_999);
    expect(w.times()).toEqual([0, 500]);
    expect(onAckTimeout).not.toHaveBeenCalled();
  });
});

describe("INVITE server transaction: Confirmed", () => {
  it("Confirmed absorbs further ACKs and INVITE retransmissions without sending", () => {
    const { w, tx } = setup();
    tx.respond(486, bytes(486));
    tx.receiveAck();
    expect(tx.receiveAck()).toBe(true);
    tx.receiveRequestRetransmission();
    expect(w.sent).toHaveLength(1);
    expect(tx.state).toBe("confirmed");
  });

  it("Timer I keeps Confirmed T4 over UDP, then terminates", () => {
    const { onTerminated, tx } = setup();
    tx.respond(486, bytes(486));
    tx.receiveAck();
    vi.advanceTimersByTime(4_999);
    expect(tx.state).toBe("confirmed");
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });

  it("Timer I is zero over TCP", () => {
    const { onAckTimeout, onTerminated, tx } = setup(true);
    tx.respond(486, bytes(486));
    tx.receiveAck();
    vi.advanceTimersByTime(0);
    expect(tx.state).toBe("terminated");
    expect(onTerminated).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60_000);
    expect(onAckTimeout).not.toHaveBeenCalled();
  });
});

describe("INVITE server transaction: the guarded transition", () => {
  it("refuses a 1xx after a final, sending nothing", () => {
    for (const final of [200, 486]) {
      const { w, tx } = setup();
      tx.respond(final, bytes(final));
      expect(tx.respond(180, bytes(180))).toBe(false);
      expect(w.sent).toHaveLength(1);
      // and the refused provisional is not what a retransmission gets
      tx.receiveRequestRetransmission();
      expect(w.sent.every((s) => s.data.equals(bytes(final)))).toBe(true);
    }
  });

  it("refuses a 300-699 after a 2xx, and a 2xx after a 300-699", () => {
    const a = setup();
    a.tx.respond(200, bytes(200));
    expect(a.tx.respond(486, bytes(486))).toBe(false);
    expect(a.tx.state).toBe("accepted");
    const b = setup();
    b.tx.respond(486, bytes(486));
    expect(b.tx.respond(200, bytes(200))).toBe(false);
    expect(b.tx.respond(603, bytes(603))).toBe(false);
    expect(b.tx.state).toBe("completed");
    expect(b.w.sent).toHaveLength(1);
  });

  it("refuses every response once terminated", () => {
    const { w, tx } = setup();
    tx.cancelTimersAndTerminate();
    for (const s of [100, 180, 200, 486]) expect(tx.respond(s, bytes(s))).toBe(false);
    expect(w.sent).toHaveLength(0);
    expect(tx.receiveAck()).toBe(false);
  });

  it("a status outside 100-699 is a programming error", () => {
    const { tx } = setup();
    expect(() => tx.respond(99, bytes(100))).toThrow(RangeError);
    expect(() => tx.respond(700, bytes(100))).toThrow(RangeError);
    expect(tx.state).toBe("proceeding");
  });

  it("cancelTimersAndTerminate stops every timer and reports termination once", () => {
    const { w, onAckTimeout, onTerminated, tx } = setup();
    tx.respond(486, bytes(486));
    tx.cancelTimersAndTerminate();
    tx.cancelTimersAndTerminate();
    vi.advanceTimersByTime(60_000);
    expect(w.sent).toHaveLength(1);
    expect(onAckTimeout).not.toHaveBeenCalled();
    expect(onTerminated).toHaveBeenCalledTimes(1);
  });
});
