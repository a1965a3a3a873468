// The location service's policy (RFC 3261 §10.3 steps 6-8, RFC 5626 §6) over the memory store:
// no database needed for the rules; test/adapters/ checks what the SQL store keeps of them.
import { beforeEach, describe, expect, it } from "vitest";
import { LocationService } from "../../../src/sip/registrar/location.js";
import { memoryLocationStore } from "../../../src/sip/registrar/location-store.js";
import { contact, origin } from "../../helpers/registrations.js";

const T0 = 1_800_000_000_000_000;

describe("location service", () => {
  let now: number;
  const clock = () => now;
  const customerId = "00000000-0000-4000-8000-000000000001";
  const extId = "00000000-0000-4000-8000-0000000000e1";
  let store: ReturnType<typeof memoryLocationStore>;
  let loc: LocationService;

  beforeEach(() => {
    now = T0;
    store = memoryLocationStore();
    loc = new LocationService({ store, clock });
  });

  it("a fourth contact replaces the least recently refreshed one", () => {
    for (let i = 1; i <= 3; i++) {
      now += 1_000_000;
      loc.register(extId, customerId, [contact(i)], origin(`c${i}`, 1));
    }
    now += 1_000_000;
    loc.register(extId, customerId, [contact(1)], origin("c1", 2)); // 1 refreshed: 2 is now oldest
    now += 1_000_000;
    const after = loc.register(extId, customerId, [contact(4)], origin("c4", 1));
    expect(after.map((b) => b.contact).sort()).toEqual(
      [contact(1), contact(3), contact(4)].map((c) => c.contact).sort(),
    );
  });

  it("a REGISTER with the same Call-ID and a CSeq not higher is ignored for that binding", () => {
    loc.register(extId, customerId, [contact(1)], origin("same", 5));
    const before = loc.lookup(extId)[0]?.expireAt;
    now += 10_000_000;
    loc.register(extId, customerId, [contact(1)], origin("same", 5));
    expect(loc.lookup(extId)[0]?.expireAt).toBe(before);
    loc.register(extId, customerId, [{ ...contact(1), expires: 0 }], origin("same", 4));
    expect(loc.lookup(extId)).toHaveLength(1);
    loc.register(extId, customerId, [{ ...contact(1), expires: 0 }], origin("same", 6));
    expect(loc.lookup(extId)).toHaveLength(0);
  });

  it("a contact with the same +sip.instance replaces the device's old binding (RFC 5626 §6)", () => {
    loc.register(extId, customerId, [{ ...contact(1), instanceId: "<urn:uuid:1>" }], origin("a", 1));
    const after = loc.register(
      extId,
      customerId,
      [{ ...contact(2), instanceId: "<urn:uuid:1>" }],
      origin("b", 1),
    );
    expect(after.map((b) => b.contact)).toEqual([contact(2).contact]);
  });

  it("answers from memory and writes behind: the store has the binding after flush()", async () => {
    loc.register(extId, customerId, [contact(1)], origin("a", 1));
    expect(store.size()).toBe(0);
    await loc.flush();
    expect((await store.loadLive(now)).map((r) => [r.extensionId, r.customerId, r.binding.contact])).toEqual([
      [extId, customerId, contact(1).contact],
    ]);
  });

  it("expired bindings are not looked up, and sweep() drops them from memory and the store", async () => {
    loc.register(extId, customerId, [{ ...contact(1), expires: 60 }, contact(2)], origin("a", 1));
    await loc.flush();
    now += 61_000_000;
    expect(loc.lookup(extId).map((b) => b.contact)).toEqual([contact(2).contact]);
    expect(await loc.sweep()).toBe(1);
    expect(store.size()).toBe(1);
  });
});
