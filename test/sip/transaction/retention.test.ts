// A client transaction lives on after its final response — Timer K (5 s) or D (32 s) over UDP —
// at a busy proxy's call rate, thousands of them. What it keeps that long must not include its
// request or what its TU's callbacks held (the call): those were most of what each scavenge
// copied at 1,000 calls/s (BENCHMARKS.md, calls). Checked with a real garbage collection.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { InviteClientTransaction } from "../../../src/sip/transaction/invite-client.js";
import { ClientTransactions } from "../../../src/sip/transaction/matching.js";
import { NonInviteClientTransaction } from "../../../src/sip/transaction/non-invite-client.js";
import { invite, nonInvite, response } from "./fixtures.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Whether the object behind `ref` is gone after full collections (a WeakRef's target lives to the end of the job that made it). */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

const transport = {
  sent: [] as string[],
  send(to: string) {
    this.sent.push(to);
  },
};

describe("a client transaction past its final response", () => {
  it("a BYE's, kept for Timer K, holds neither its request nor what its TU held; its hooks still send and unregister", async () => {
    const clients = new ClientTransactions();
    const { tx, request, call } = (() => {
      const req = nonInvite("BYE");
      const state = { req, big: Buffer.alloc(4096) }; // what a forwarding scope holds
      const t = new NonInviteClientTransaction({
        request: req,
        ...clients.hooks("z9hG4bK-bye", "BYE", transport, "device"),
        reliable: false,
        user: { onResponse: () => void state, onTimeout: () => void state },
      });
      clients.add("z9hG4bK-bye", "BYE", t);
      t.start();
      return { tx: t, request: new WeakRef(req), call: new WeakRef(state) };
    })();
    expect(transport.sent.at(-1)).toBe("device");
    tx.receive(response(200, { method: "BYE" }));
    expect(tx.state).toBe("completed");
    expect(clients.size).toBe(1);
    expect(await collected(request)).toBe(true);
    expect(await collected(call)).toBe(true);
    tx.cancelTimersAndTerminate();
    expect(clients.size).toBe(0);
  });

  it("an INVITE's rejected by the device, kept for Timer D, lets its TU go (the ACK is still resent)", async () => {
    const clients = new ClientTransactions();
    const seen: number[] = [];
    const { tx, call } = (() => {
      const state = { big: Buffer.alloc(4096) };
      const t = new InviteClientTransaction({
        request: invite(),
        ...clients.hooks("z9hG4bK-inv", "INVITE", transport, "device"),
        reliable: false,
        user: {
          onResponse: (res) => void seen.push(state.big.length && res.status),
          onTimeout: () => void state,
        },
      });
      clients.add("z9hG4bK-inv", "INVITE", t);
      t.start();
      return { tx: t, call: new WeakRef(state) };
    })();
    tx.receive(response(486));
    expect(tx.state).toBe("completed");
    expect(seen).toEqual([486]);
    const sent = transport.sent.length;
    tx.receive(response(486));
    expect(transport.sent.length).toBe(sent + 1);
    expect(seen).toEqual([486]);
    expect(await collected(call)).toBe(true);
    tx.cancelTimersAndTerminate();
    expect(clients.size).toBe(0);
  });
});
