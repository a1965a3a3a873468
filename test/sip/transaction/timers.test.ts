// The transaction clock: RFC 3261's constants, the default setTimeout-based Timers, and the
// injection point that lets a transaction run on another clock.
import { describe, expect, it } from "vitest";
import { InviteClientTransaction } from "../../../src/sip/transaction/invite-client.js";
import { InviteServerTransaction } from "../../../src/sip/transaction/invite-server.js";
import { T1_MS, TIMER_J_MS } from "../../../src/sip/transaction/non-invite-server.js";
import {
  defaultTimers,
  T1,
  T2,
  T4,
  type TimerHandle,
  type Timers,
} from "../../../src/sip/transaction/timers.js";
import { invite, recordingUser, response, wire } from "./fixtures.js";

/** A clock driven by hand: records every delay asked for. */
function manualTimers() {
  const pending = new Map<TimerHandle, { ms: number; fn: () => void }>();
  const asked: number[] = [];
  const timers: Timers = {
    set(ms, fn) {
      const h = {};
      pending.set(h, { ms, fn });
      asked.push(ms);
      return h;
    },
    clear(h) {
      if (h) pending.delete(h);
    },
  };
  /** Fires the pending timer with the shortest delay. */
  const fireNext = (): number | undefined => {
    let next: [TimerHandle, { ms: number; fn: () => void }] | undefined;
    for (const e of pending) if (!next || e[1].ms < next[1].ms) next = e;
    if (!next) return undefined;
    pending.delete(next[0]);
    next[1].fn();
    return next[1].ms;
  };
  return { timers, asked, pending, fireNext };
}

describe("transaction timers", () => {
  it("T1 is 500 ms, T2 4 s and T4 5 s (RFC 3261 §17.1.1.1, §17.1.2.2)", () => {
    expect([T1, T2, T4]).toEqual([500, 4000, 5000]);
  });

  it("the non-INVITE server transaction still exports T1_MS and Timer J = 64*T1", () => {
    expect(T1_MS).toBe(T1);
    expect(TIMER_J_MS).toBe(64 * T1);
  });

  it("the default timers do not keep the process alive", () => {
    const h = defaultTimers.set(60_000, () => {});
    expect((h as NodeJS.Timeout).hasRef()).toBe(false);
    defaultTimers.clear(h);
  });

  it("the default timers fire once, and a cleared one never fires", async () => {
    const fired: string[] = [];
    defaultTimers.set(1, () => fired.push("kept"));
    const h = defaultTimers.set(1, () => fired.push("cleared"));
    defaultTimers.clear(h);
    defaultTimers.clear(undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toEqual(["kept"]);
  });

  it("a transaction runs on the Timers it is given", () => {
    const clock = manualTimers();
    const w = wire();
    const tx = new InviteClientTransaction({
      request: invite(),
      send: w.send,
      reliable: false,
      user: recordingUser(),
      timers: clock.timers,
    });
    tx.start();
    expect(clock.asked).toEqual([500, 32_000]); // Timer A, Timer B
    expect(clock.fireNext()).toBe(500);
    expect(clock.asked).toEqual([500, 32_000, 1000]);
    expect(w.sent).toHaveLength(2);
  });

  it("a server transaction's timers are cleared on the injected clock when it terminates", () => {
    const clock = manualTimers();
    const tx = new InviteServerTransaction({ send: () => {}, reliable: false, timers: clock.timers });
    tx.respond(486, Buffer.from("SIP/2.0 486 Busy Here\r\n\r\n"));
    expect(clock.asked).toEqual([500, 32_000]); // Timer G, Timer H
    tx.cancelTimersAndTerminate();
    expect(clock.pending.size).toBe(0);
  });

  it("each state leaves only its own timers pending", () => {
    const server = manualTimers();
    const stx = new InviteServerTransaction({ send: () => {}, reliable: false, timers: server.timers });
    stx.respond(486, Buffer.from("SIP/2.0 486 Busy Here\r\n\r\n"));
    stx.receiveAck();
    // Confirmed: Timer G and Timer H cleared, Timer I (T4) alone
    expect([...server.pending.values()].map((t) => t.ms)).toEqual([5000]);

    const client = manualTimers();
    const ctx = new InviteClientTransaction({
      request: invite(),
      send: () => {},
      reliable: false,
      user: recordingUser(),
      timers: client.timers,
    });
    ctx.start();
    ctx.receive(response(180));
    // Proceeding: Timer A and Timer B cleared, nothing pending
    expect(client.pending.size).toBe(0);
    ctx.receive(response(200));
    // Accepted: Timer M alone
    expect([...client.pending.values()].map((t) => t.ms)).toEqual([32_000]);
  });
});
