// The token buckets behind the API rate limits (CONTRACT §17), on a clock the test moves: a burst
// of 2 × rate, refilled continuously, the wait until the next token, and tokens taken on other
// nodes draining the bucket without ever making it owe more than empty.
import { describe, expect, it } from "vitest";
import { TokenBuckets } from "../../src/api/rate-limit.js";

describe("token buckets", () => {
  it("lets a burst of twice the rate through, then one request per 1/rate seconds", () => {
    let now = 0;
    const b = new TokenBuckets(5, () => now);
    for (let i = 0; i < 10; i++) expect(b.take("a")).toBe(0);
    expect(b.take("a")).toBeCloseTo(0.2, 6);
    now += 100;
    expect(b.take("a")).toBeCloseTo(0.1, 6);
    now += 100;
    expect(b.take("a")).toBe(0);
    // Another key has its own bucket.
    expect(b.take("b")).toBe(0);
  });

  it("refills no higher than the burst", () => {
    let now = 0;
    const b = new TokenBuckets(1, () => now);
    now += 60_000;
    expect(b.take("a")).toBe(0);
    expect(b.take("a")).toBe(0);
    expect(b.take("a")).toBeGreaterThan(0);
  });

  it("drains by what other nodes took, never below empty", () => {
    let now = 0;
    const b = new TokenBuckets(2, () => now);
    b.drain("c", 3);
    expect(b.take("c")).toBe(0);
    expect(b.take("c")).toBeCloseTo(0.5, 6);
    b.drain("c", 100);
    now += 500;
    expect(b.take("c")).toBe(0);
  });
});
