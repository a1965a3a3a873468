import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailureWindow } from "../../src/api/failure-window.js";
import { LOGIN_FAILURES_PER_MINUTE } from "../../src/api/login-throttle.js";
import { client, DATABASES, type Harness, startHarness, stopHarness } from "../helpers/harness.js";

describe("failure window", () => {
  it("refuses a key past its limit until the window ends, and only that key", () => {
    let t = 0;
    const w = new FailureWindow({ limit: 3, windowMs: 60_000, now: () => t });
    for (let i = 0; i < 3; i++) {
      expect(w.retryAfter("a")).toBe(0);
      w.fail("a");
    }
    t = 15_000;
    expect(w.retryAfter("a")).toBe(45);
    expect(w.retryAfter("b")).toBe(0);
    t = 60_000;
    expect(w.retryAfter("a")).toBe(0);
  });
});

describe.each(DATABASES)("login throttling on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  it("a client that keeps guessing passwords hears 429 with Retry-After, even for the right one", async () => {
    const api = client(h.url);
    // A different username each time: the per-username back-off (login-guard.test.ts) stays out.
    for (let i = 0; i < LOGIN_FAILURES_PER_MINUTE; i++) {
      const r = await api.post("/auth/login", { username: `guess-${i}`, password: `wrong-${i}` });
      expect(r.status).toBe(401);
    }
    const blocked = await api.post<{ error: { status: string; reason: string } }>("/auth/login", {
      username: h.admin.username,
      password: h.admin.password,
    });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.status).toBe("RESOURCE_EXHAUSTED");
    expect(blocked.body.error.reason).toBe("TOO_MANY_LOGIN_FAILURES");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    // Credentials already issued keep working: only password guessing is slowed.
    expect((await client(h.url, h.admin.token).get("/v1.0/customer")).status).toBe(200);
  });
});
