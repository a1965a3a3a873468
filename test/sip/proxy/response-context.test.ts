// The response context of a proxied INVITE (RFC 3261 §16.7) on its own, without sockets or
// transactions: which response goes upstream, when branches are CANCELed, and the races between
// the caller's CANCEL, the ring timeout and the devices' answers.
import { beforeEach, describe, expect, it } from "vitest";
import { SipHeaders } from "../../../src/sip/message/headers.js";
import type { SipResponse } from "../../../src/sip/message/types.js";
import { type Branch, ResponseContext, rank } from "../../../src/sip/proxy/response-context.js";

const res = (status: number): SipResponse => ({
  kind: "response",
  status,
  reason: `reason ${status}`,
  version: "SIP/2.0",
  headers: new SipHeaders(),
  body: Buffer.alloc(0),
});

/** Everything the context asked of its owner, in order. */
type Event =
  | ["forward", number]
  | ["relayLate", number]
  | ["reply", number, string]
  | ["cancel", string]
  | ["stopRinging"]
  | ["retire"]
  | ["nextGroup", string[]];

let events: Event[];
let ctx: ResponseContext<string>;
/** the groups of lower q still to ring (serial forking); nextGroup() forks the first */
let groups: string[][];
let added: Branch<string>[];
/** legs whose branch fails before it is sent (too large for its flow) */
let failAtOnce: Set<string>;

beforeEach(() => {
  events = [];
  groups = [];
  added = [];
  failAtOnce = new Set();
  ctx = new ResponseContext<string>({
    forward: (r) => events.push(["forward", r.status]),
    relayLate: (r) => events.push(["relayLate", r.status]),
    reply: (status, reason) => events.push(["reply", status, reason]),
    sendCancel: (b) => events.push(["cancel", b.leg]),
    stopRinging: () => events.push(["stopRinging"]),
    retire: () => events.push(["retire"]),
    nextGroup: () => {
      const group = groups.shift();
      if (!group) return false;
      events.push(["nextGroup", group]);
      ctx.moreBranches();
      for (const leg of group) {
        const b = ctx.addBranch(leg);
        added.push(b);
        if (failAtOnce.has(leg)) ctx.ended(b, 513);
      }
      ctx.forked();
      return true;
    },
  });
});

/** Forks to the named branches. */
function fork(...legs: string[]): Branch<string>[] {
  const branches = legs.map((l) => ctx.addBranch(l));
  ctx.forked();
  return branches;
}

const of = (kind: Event[0]) => events.filter((e) => e[0] === kind);

describe("best response (§16.7 step 6)", () => {
  it("ranks 6xx first, then the lowest class, and a real answer above a branch's giving up", () => {
    expect(rank(603)).toBeLessThan(rank(486));
    expect(rank(302)).toBeLessThan(rank(486));
    expect(rank(486)).toBeLessThan(rank(408));
    expect(rank(486)).toBeLessThan(rank(487));
    expect(rank(486)).toBeLessThan(rank(480));
    expect(rank(404)).toBeLessThan(rank(500));
  });

  it("waits for every branch, then forwards the best final of a device", () => {
    const [a, b, c] = fork("a", "b", "c") as Branch<string>[];
    ctx.final(a as Branch<string>, res(404));
    ctx.final(b as Branch<string>, res(486));
    expect(of("forward")).toEqual([]);
    ctx.final(c as Branch<string>, res(500));
    expect(of("forward")).toEqual([["forward", 404]]);
    expect(ctx.state).toBe("completed");
  });

  it("a device's 486 Busy Here beats another branch's timeout (408)", () => {
    const [a, b] = fork("a", "b") as Branch<string>[];
    ctx.ended(a as Branch<string>, 408);
    ctx.final(b as Branch<string>, res(486));
    expect(of("forward")).toEqual([["forward", 486]]);
  });

  it("a best 503 is not passed on as such: the caller gets 500", () => {
    const [a] = fork("a");
    ctx.final(a as Branch<string>, res(503));
    expect(of("reply")).toEqual([["reply", 500, "Server Internal Error"]]);
  });

  it("a call whose every branch failed at once (too large to send) ends with that outcome", () => {
    const a = ctx.addBranch("a");
    ctx.ended(a, 513);
    expect(events).toEqual([]); // not before every branch is out
    ctx.forked();
    expect(of("reply")).toEqual([["reply", 513, "Message Too Large"]]);
  });
});

describe("2xx (§16.7 step 5)", () => {
  it("goes upstream at once, CANCELs ringing branches, waits for a silent one's provisional", () => {
    const [a, b, c] = fork("a", "b", "c") as Branch<string>[];
    ctx.provisional(b as Branch<string>, res(180));
    ctx.final(a as Branch<string>, res(200));
    expect(events).toEqual([["forward", 180], ["forward", 200], ["stopRinging"], ["cancel", "b"]]);
    expect(c?.state).toBe("cancel-on-1xx");
    // §9.1: the silent branch is CANCELed only once it rings.
    ctx.provisional(c as Branch<string>, res(100));
    expect(of("cancel")).toEqual([
      ["cancel", "b"],
      ["cancel", "c"],
    ]);
    // A provisional after the final is not forwarded.
    expect(of("forward")).toEqual([
      ["forward", 180],
      ["forward", 200],
    ]);
  });

  it("every further 2xx also goes upstream, and the call retires once every branch is over", () => {
    const [a, b] = fork("a", "b") as Branch<string>[];
    ctx.provisional(b as Branch<string>, res(180));
    ctx.final(a as Branch<string>, res(200));
    ctx.final(b as Branch<string>, res(200)); // answered before our CANCEL arrived
    expect(of("forward")).toEqual([
      ["forward", 180],
      ["forward", 200],
      ["forward", 200],
    ]);
    expect(of("retire")).toEqual([["retire"]]);
    expect(ctx.state).toBe("retired");
  });

  it("does not retire while a CANCELed branch has no final yet", () => {
    const [a, b] = fork("a", "b") as Branch<string>[];
    ctx.provisional(b as Branch<string>, res(180));
    ctx.final(a as Branch<string>, res(200));
    expect(of("retire")).toEqual([]);
    ctx.final(b as Branch<string>, res(487));
    expect(of("retire")).toEqual([["retire"]]);
    // The 487 of our own CANCEL never goes upstream after the 2xx.
    expect(of("forward")).toEqual([
      ["forward", 180],
      ["forward", 200],
    ]);
  });

  it("a 2xx after our own 480 (ring timeout) is still relayed, outside the transaction", () => {
    const [a] = fork("a");
    ctx.giveUp();
    expect(of("reply")).toEqual([["reply", 480, "Temporarily Unavailable (no answer)"]]);
    ctx.final(a as Branch<string>, res(200));
    expect(of("relayLate")).toEqual([["relayLate", 200]]);
    expect(of("forward")).toEqual([]);
  });
});

describe("6xx (§16.7 step 5)", () => {
  it("CANCELs the other branches and is forwarded once they have ended, not their 487s", () => {
    const [a, b] = fork("a", "b") as Branch<string>[];
    ctx.provisional(b as Branch<string>, res(180));
    ctx.final(a as Branch<string>, res(603));
    expect(of("cancel")).toEqual([["cancel", "b"]]);
    expect(of("forward")).toEqual([["forward", 180]]);
    ctx.final(b as Branch<string>, res(487));
    expect(of("forward")).toEqual([
      ["forward", 180],
      ["forward", 603],
    ]);
  });

  it("stops serial forking: no lower q rings after a 6xx", () => {
    groups = [["low"]];
    const [a] = fork("a");
    ctx.final(a as Branch<string>, res(600));
    expect(of("nextGroup")).toEqual([]);
    expect(of("forward")).toEqual([["forward", 600]]);
  });
});

describe("serial forking by q (§16.6)", () => {
  it("rings the next lower q only when every branch of the higher one failed", () => {
    groups = [["mid1", "mid2"], ["low"]];
    const [a, b] = fork("high1", "high2") as Branch<string>[];
    ctx.final(a as Branch<string>, res(486));
    expect(of("nextGroup")).toEqual([]);
    ctx.ended(b as Branch<string>, 408);
    expect(of("nextGroup")).toEqual([["nextGroup", ["mid1", "mid2"]]]);
    expect(of("forward")).toEqual([]);
    const [m1, m2] = added as Branch<string>[];
    ctx.final(m1 as Branch<string>, res(480));
    ctx.provisional(m2 as Branch<string>, res(180));
    ctx.final(m2 as Branch<string>, res(200));
    expect(of("forward")).toEqual([
      ["forward", 180],
      ["forward", 200],
    ]);
    // "low" never rang.
    expect(of("nextGroup")).toHaveLength(1);
  });

  it("when every group failed, the best final of all of them goes upstream", () => {
    groups = [["low"]];
    const [a] = fork("high");
    ctx.final(a as Branch<string>, res(486));
    ctx.final(added[0] as Branch<string>, res(404));
    expect(of("forward")).toEqual([["forward", 404]]);
  });

  it("a ring timeout or a CANCEL ends the call without ringing the next group", () => {
    groups = [["low"]];
    const [a] = fork("high");
    ctx.provisional(a as Branch<string>, res(180));
    ctx.giveUp();
    ctx.final(a as Branch<string>, res(487));
    expect(of("nextGroup")).toEqual([]);
    expect(of("reply")).toEqual([["reply", 480, "Temporarily Unavailable (no answer)"]]);
  });

  it("a lower group whose only branch fails at once (too large) moves on to the next", () => {
    groups = [["big"], ["last"]];
    failAtOnce = new Set(["big"]);
    const [a] = fork("high");
    ctx.final(a as Branch<string>, res(486));
    expect(of("nextGroup")).toEqual([
      ["nextGroup", ["big"]],
      ["nextGroup", ["last"]],
    ]);
    expect(of("forward")).toEqual([]);
    ctx.final(added[1] as Branch<string>, res(480));
    // 486 Busy Here (a device's answer) beats 513 and 480.
    expect(of("forward")).toEqual([["forward", 486]]);
  });
});

describe("CANCEL races (§16.10, §9.1)", () => {
  it("a CANCEL while the call is still being routed: nothing to CANCEL, the owner answers 487", () => {
    ctx.cancel();
    expect(ctx.canceled).toBe(true);
    expect(events).toEqual([]);
    ctx.reject(487, "Request Terminated");
    expect(of("reply")).toEqual([["reply", 487, "Request Terminated"]]);
  });

  it("CANCELs ringing branches at once and silent ones at their first provisional", () => {
    const [a, b] = fork("a", "b") as Branch<string>[];
    ctx.provisional(a as Branch<string>, res(183));
    ctx.cancel();
    expect(of("cancel")).toEqual([["cancel", "a"]]);
    ctx.provisional(b as Branch<string>, res(180));
    expect(of("cancel")).toEqual([
      ["cancel", "a"],
      ["cancel", "b"],
    ]);
    ctx.final(a as Branch<string>, res(487));
    ctx.final(b as Branch<string>, res(487));
    expect(of("forward").at(-1)).toEqual(["forward", 487]);
  });

  it("a device that answers 200 although we CANCELed it: the 200 still goes upstream", () => {
    const [a] = fork("a");
    ctx.provisional(a as Branch<string>, res(180));
    ctx.cancel();
    ctx.final(a as Branch<string>, res(200));
    expect(of("forward").at(-1)).toEqual(["forward", 200]);
    expect(ctx.state).toBe("retired");
  });

  it("a CANCELed branch that never sends its final is ended by the guard as 487", () => {
    const [a] = fork("a");
    ctx.provisional(a as Branch<string>, res(180));
    ctx.cancel();
    ctx.ended(a as Branch<string>, 487);
    expect(of("reply")).toEqual([["reply", 487, "Request Terminated"]]);
  });

  it("the caller's CANCEL wins over a ring timeout that fires while the branches end", () => {
    const [a] = fork("a");
    ctx.provisional(a as Branch<string>, res(180));
    ctx.cancel();
    ctx.giveUp();
    ctx.final(a as Branch<string>, res(487));
    expect(of("forward").at(-1)).toEqual(["forward", 487]);
    expect(of("reply")).toEqual([]);
  });
});

describe("ring timeout (our Timer C, §16.8)", () => {
  it("a silent branch counts as 408 at once and the caller hears 480 (no answer)", () => {
    const [a] = fork("a");
    ctx.giveUp();
    expect(a?.status).toBe(408);
    expect(of("reply")).toEqual([["reply", 480, "Temporarily Unavailable (no answer)"]]);
  });

  it("a ringing branch is CANCELed; its 487 is no answer, a busy branch's 486 is", () => {
    const [a, b] = fork("a", "b") as Branch<string>[];
    ctx.provisional(a as Branch<string>, res(180));
    ctx.final(b as Branch<string>, res(486));
    ctx.giveUp();
    expect(of("cancel")).toEqual([["cancel", "a"]]);
    ctx.final(a as Branch<string>, res(487));
    expect(of("forward").at(-1)).toEqual(["forward", 486]);
  });
});
