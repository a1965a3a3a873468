import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { aesGcmSealer, rememberingSealer, type Sealer } from "../../src/domain/secrets.js";

/** The real AES-GCM sealer, counting how often it really opens a value. */
function countingAesGcm() {
  const real = aesGcmSealer(randomBytes(32));
  const opens = { n: 0 };
  const sealer: Sealer = {
    seal: real.seal,
    open(sealed) {
      opens.n++;
      return real.open(sealed);
    },
  };
  return { sealer, opens };
}

describe("remembering sealer", () => {
  it("opens each sealed value once and gives the same plaintext after", () => {
    const { sealer, opens } = countingAesGcm();
    const s = rememberingSealer(sealer, 10);
    const a = s.seal("secret-a");
    const b = s.seal("secret-a");
    expect(a).not.toBe(b); // a fresh IV per seal: one plaintext, two sealed values
    expect(s.open(a)).toBe("secret-a");
    expect(s.open(a)).toBe("secret-a");
    expect(s.open(b)).toBe("secret-a");
    expect(opens.n).toBe(2);
  });

  it("keeps at most its size, forgetting the value opened first", () => {
    const { sealer, opens } = countingAesGcm();
    const s = rememberingSealer(sealer, 2);
    const values = ["one", "two", "three"].map((p) => s.seal(p));
    expect(values.map((v) => s.open(v))).toEqual(["one", "two", "three"]);
    expect(opens.n).toBe(3);
    expect(s.open(values[2] ?? "")).toBe("three");
    expect(s.open(values[1] ?? "")).toBe("two");
    expect(opens.n).toBe(3);
    expect(s.open(values[0] ?? "")).toBe("one");
    expect(opens.n).toBe(4);
  });

  it("still refuses a tampered value, and does not remember the failure", () => {
    const { sealer } = countingAesGcm();
    const s = rememberingSealer(sealer, 10);
    const v = s.seal("secret");
    const tampered = `${v.slice(0, -2)}${v.endsWith("AA") ? "BB" : "AA"}`;
    expect(() => s.open(tampered)).toThrow();
    expect(() => s.open(tampered)).toThrow();
    expect(s.open(v)).toBe("secret");
  });
});
