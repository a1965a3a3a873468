import { afterEach, describe, expect, it } from "vitest";
import { OverloadMeter } from "../../../src/sip/guard/overload.js";

/** Keeps the event loop working for `ms` in 5 ms slices with no idle time between them, as a
 * flood of datagrams does: timers still fire on time, the loop never waits for input. */
function saturate(ms: number): Promise<void> {
  const until = performance.now() + ms;
  return new Promise((resolve) => {
    const slice = () => {
      const end = Math.min(until, performance.now() + 5);
      while (performance.now() < end) {}
      if (performance.now() < until) setImmediate(slice);
      else resolve();
    };
    slice();
  });
}

describe("OverloadMeter (CONTRACT §14)", () => {
  let meter: OverloadMeter | undefined;
  afterEach(() => meter?.stop());

  it("a loop that never waits for input is overloaded though its timers run on time, and recovers", async () => {
    meter = new OverloadMeter({ maxLagMs: 200, maxPending: 1000, maxUtilization: 0.98 });
    await new Promise((r) => setTimeout(r, 200));
    expect(meter.overloaded).toBe(false);
    await saturate(1_500);
    expect(meter.lagMs).toBeLessThan(200);
    expect(meter.utilization).toBeGreaterThan(0.98);
    expect(meter.overloaded).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(meter.utilization).toBeLessThan(0.5);
    expect(meter.overloaded).toBe(false);
  });

  it("without a utilisation limit (the default) only the lag and the waiting work count", async () => {
    meter = new OverloadMeter({ maxLagMs: 200, maxPending: 2 });
    await saturate(1_500);
    expect(meter.overloaded).toBe(false);
    const done = [meter.begin(), meter.begin(), meter.begin()];
    expect(meter.overloaded).toBe(true);
    for (const d of done) d();
    expect(meter.overloaded).toBe(false);
  });
});
