// How the nodes of a deployment keep their bindings in step (CONTRACT §15): the changes of each
// written batch travel on the bus with the bindings themselves. Two location services in one
// process, one store between them (as two nodes share one database) and a bus that delivers in
// order; test/e2e/nodes.test.ts runs the same over PostgreSQL's LISTEN/NOTIFY with real nodes.
import { beforeEach, describe, expect, it } from "vitest";
import { syncLocation } from "../../src/adapters/deployment-sync.js";
import type { BusHandler, DeploymentBus } from "../../src/deployment-bus.js";
import { LocationService } from "../../src/sip/registrar/location.js";
import { memoryLocationStore } from "../../src/sip/registrar/location-store.js";
import { contact, origin } from "../helpers/registrations.js";

/** Two nodes' ends of one bus: what one publishes, the other hears, in order. */
function busPair(): [DeploymentBus & { sent: string[] }, DeploymentBus & { sent: string[] }] {
  const end = (nodeId: string) => {
    const handlers = new Map<string, BusHandler[]>();
    return {
      nodeId,
      alone: false,
      sent: [] as string[],
      handlers,
      peer: undefined as undefined | { handlers: Map<string, BusHandler[]> },
      publish(topic: string, payload: string) {
        this.sent.push(topic);
        for (const h of this.peer?.handlers.get(topic) ?? []) h(payload, nodeId);
      },
      subscribe(topic: string, h: BusHandler) {
        handlers.set(topic, [...(handlers.get(topic) ?? []), h]);
      },
      onLost() {},
      onRegained() {},
      close: async () => {},
    };
  };
  const a = end("a");
  const b = end("b");
  a.peer = b;
  b.peer = a;
  return [a, b];
}

const T0 = 1_800_000_000_000_000;
const customerId = "00000000-0000-4000-8000-000000000001";
const extId = "00000000-0000-4000-8000-0000000000e1";

describe("bindings in step over the deployment bus", () => {
  let now: number;
  const clock = () => now;
  let a: LocationService;
  let b: LocationService;
  let busA: DeploymentBus & { sent: string[] };

  beforeEach(() => {
    now = T0;
    const store = memoryLocationStore();
    const [ba, bb] = busPair();
    busA = ba;
    a = new LocationService({ store, clock, node: { id: "a", address: "10.0.0.1:5060" } });
    b = new LocationService({ store, clock, node: { id: "b", address: "10.0.0.2:5060" } });
    const fail = (err: unknown) => {
      throw err;
    };
    syncLocation(ba, a, store, fail);
    syncLocation(bb, b, store, fail);
  });

  it("a binding registered at one node is served by the other once written, with its node", async () => {
    a.register(extId, customerId, [{ ...contact(1), q: 0.5 }], origin("c1", 1));
    expect(b.lookup(extId)).toEqual([]);
    await a.flush();
    const [seen] = b.lookup(extId);
    expect(seen).toMatchObject({
      contact: contact(1).contact,
      node: "a",
      nodeAddress: "10.0.0.1:5060",
      q: 0.5,
    });
    expect(seen?.regId).toBeUndefined();
    expect(busA.sent).toEqual(["loc-changes"]);
  });

  it("a refresh arriving at the other node moves the binding there, on both", async () => {
    a.register(extId, customerId, [contact(1)], origin("c1", 1));
    await a.flush();
    now += 1_000_000;
    b.register(extId, customerId, [contact(1)], origin("c1", 2));
    await b.flush();
    for (const loc of [a, b]) expect(loc.lookup(extId).map((x) => [x.node, x.cseq])).toEqual([["b", 2]]);
  });

  it("a node keeps its own binding when what it hears of it is older", async () => {
    a.register(extId, customerId, [contact(1)], origin("c1", 1));
    now += 1_000_000;
    b.register(extId, customerId, [contact(1)], origin("c1", 2));
    // a's older write reaches b after b's own newer one was made.
    await a.flush();
    expect(b.lookup(extId).map((x) => [x.node, x.cseq])).toEqual([["b", 2]]);
  });

  it("removals travel: one binding, a replaced device, all of an extension's", async () => {
    a.register(extId, customerId, [contact(1), contact(2)], origin("c1", 1));
    await a.flush();
    expect(b.lookup(extId)).toHaveLength(2);
    a.register(extId, customerId, [{ ...contact(1), expires: 0 }], origin("c1", 2));
    await a.flush();
    expect(b.lookup(extId).map((x) => x.contact)).toEqual([contact(2).contact]);
    // Removed at b (force-unregister through b's API): a forgets it too.
    b.removeAll(extId);
    await b.flush();
    expect(a.lookup(extId)).toEqual([]);
  });

  it("expiries are not told: each node drops an expired binding by itself", async () => {
    a.register(extId, customerId, [{ ...contact(1), expires: 60 }], origin("c1", 1));
    await a.flush();
    const sent = busA.sent.length;
    now += 61_000_000;
    await a.sweep();
    expect(busA.sent.length).toBe(sent);
    expect(b.lookup(extId)).toEqual([]);
  });

  it("a change too long for one message is told as 'read it', and read from the store", async () => {
    const long = { ...contact(1), contact: `sip:100@192.0.2.1:5001;x=${"y".repeat(9_000)}` };
    a.register(extId, customerId, [long, contact(2)], origin("c1", 1));
    await a.flush();
    expect(busA.sent).toEqual(["loc-changes", "loc"]);
    await new Promise((r) => setTimeout(r, 10));
    expect(
      b
        .lookup(extId)
        .map((x) => x.contact.length)
        .sort(),
    ).toEqual([contact(2).contact.length, long.contact.length].sort());
  });
});
