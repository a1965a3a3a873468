// Non-INVITE server transactions (RFC 3261 §17.2.2): a retransmitted request is answered from
// the transaction and never handed up again, over the flow it came on.
import { describe, expect, it } from "vitest";
import { NonInviteServerTransactions } from "../../../src/sip/transaction/non-invite-server.js";
import type { Flow, TransportName } from "../../../src/sip/transport/flow.js";

/** A flow that records what is sent on it, and where. */
function flow(transport: TransportName = "UDP") {
  const sent: { data: string; address: string | undefined; port: number | undefined }[] = [];
  const f: Flow = {
    transport,
    remoteAddress: "192.0.2.10",
    remotePort: 5062,
    send: (data, address, port) => sent.push({ data: data.toString(), address, port }),
  };
  return { f, sent };
}

const KEY = "z9hG4bK.1|192.0.2.10:5062|REGISTER";

describe("non-INVITE server transactions", () => {
  it("answers a retransmission after the final response with the same bytes, on the new datagram's flow", () => {
    const txs = new NonInviteServerTransactions();
    const first = flow();
    const tx = txs.receive(KEY, first.f, "192.0.2.10", 5062);
    expect(tx).toBeDefined();
    if (!tx) return;
    txs.respond(tx, 200, Buffer.from("SIP/2.0 200 OK (the one)"));
    const again = flow();
    expect(txs.receive(KEY, again.f, "192.0.2.10", 5062)).toBeUndefined();
    expect(again.sent).toEqual([{ data: "SIP/2.0 200 OK (the one)", address: "192.0.2.10", port: 5062 }]);
    expect(txs.retransmissionsAbsorbed).toBe(1);
    // A final is final: a second answer from the TU is not sent.
    txs.respond(tx, 500, Buffer.from("SIP/2.0 500 late"));
    expect(first.sent.map((s) => s.data)).toEqual(["SIP/2.0 200 OK (the one)"]);
  });

  it("absorbs a retransmission before any response, and repeats a provisional one", () => {
    const txs = new NonInviteServerTransactions();
    const tx = txs.receive(KEY, flow().f, "192.0.2.10", 5062);
    if (!tx) throw new Error("no transaction");
    const early = flow();
    expect(txs.receive(KEY, early.f, "192.0.2.10", 5062)).toBeUndefined();
    expect(early.sent).toEqual([]);
    txs.respond(tx, 100, Buffer.from("SIP/2.0 100 Trying"));
    const later = flow();
    txs.receive(KEY, later.f, "192.0.2.10", 5062);
    expect(later.sent.map((s) => s.data)).toEqual(["SIP/2.0 100 Trying"]);
  });

  it("over TCP ends the transaction with its final response (Timer J is zero)", () => {
    const txs = new NonInviteServerTransactions();
    const tx = txs.receive(KEY, flow("TCP").f, "192.0.2.10", 5062);
    if (!tx) throw new Error("no transaction");
    txs.respond(tx, 200, Buffer.from("SIP/2.0 200 OK"));
    expect(txs.size()).toBe(0);
    expect(txs.receive(KEY, flow("TCP").f, "192.0.2.10", 5062)).toBeDefined();
  });

  it("keeps a completed UDP transaction for at least Timer J, then forgets it", async () => {
    const txs = new NonInviteServerTransactions(200);
    const tx = txs.receive(KEY, flow().f, "192.0.2.10", 5062);
    if (!tx) throw new Error("no transaction");
    txs.respond(tx, 200, Buffer.from("SIP/2.0 200 OK"));
    await new Promise((r) => setTimeout(r, 250));
    const within = flow();
    expect(txs.receive(KEY, within.f, "192.0.2.10", 5062)).toBeUndefined();
    expect(within.sent).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 450));
    expect(txs.receive(KEY, flow().f, "192.0.2.10", 5062)).toBeDefined();
  });
});
