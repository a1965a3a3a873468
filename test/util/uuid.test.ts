import { describe, expect, it } from "vitest";
import { timeOrderedUuid } from "../../src/util/uuid.js";

describe("timeOrderedUuid (RFC 9562 §5.7)", () => {
  it("is a version-7 UUID of the RFC variant whose first 48 bits are the milliseconds", () => {
    const id = timeOrderedUuid(1_800_000_000_123);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(1_800_000_000_123);
  });

  it("sorts by creation time and never repeats", () => {
    const ids = Array.from({ length: 1000 }, (_, i) => timeOrderedUuid(1_800_000_000_000 + i));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(Array.from({ length: 10_000 }, () => timeOrderedUuid(1_800_000_000_000))).size).toBe(
      10_000,
    );
  });
});
