// CONTRACT §14 "Logins": on top of the per-address throttle (login-throttle.test.ts), a back-off
// per username that many addresses cannot get round, and SIPEXT_TRUST_PROXY, which decides when
// X-Forwarded-For names the client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOGIN_FREE_FAILURES_PER_USERNAME, LoginBackoff } from "../../src/api/login-backoff.js";
import { LOGIN_FAILURES_PER_MINUTE } from "../../src/api/login-throttle.js";
import { client, DATABASES, type Harness, startHarness, stopHarness } from "../helpers/harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("login back-off per username", () => {
  function backoff() {
    const clock = { t: 0 };
    const b = new LoginBackoff({ now: () => clock.t });
    return { b, clock };
  }

  it("lets ten failures pass, then closes the username for 1 s, 2 s, 4 s … up to 5 minutes", () => {
    const { b, clock } = backoff();
    for (let i = 0; i < LOGIN_FREE_FAILURES_PER_USERNAME - 1; i++) {
      expect(b.begin("alice")).toBe(0);
      b.fail("alice");
    }
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      expect(b.begin("alice")).toBe(0);
      b.fail("alice");
      const wait = b.begin("alice");
      waits.push(wait);
      clock.t += wait * 1000;
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
  });

  it("a correct password once the wait is over clears the count", () => {
    const { b, clock } = backoff();
    for (let i = 0; i < 15; i++) {
      clock.t += 600_000;
      b.begin("alice");
      b.fail("alice");
    }
    expect(b.begin("alice")).toBeGreaterThan(0);
    clock.t += 300_000;
    expect(b.begin("alice")).toBe(0);
    b.succeed("alice");
    for (let i = 0; i < LOGIN_FREE_FAILURES_PER_USERNAME - 1; i++) {
      expect(b.begin("alice")).toBe(0);
      b.fail("alice");
    }
    expect(b.begin("alice")).toBe(0);
  });

  it("keeps other usernames open", () => {
    const { b } = backoff();
    for (let i = 0; i < LOGIN_FREE_FAILURES_PER_USERNAME; i++) b.fail("alice");
    expect(b.begin("alice")).toBe(1);
    expect(b.begin("bob")).toBe(0);
  });

  it("takes guesses sent at once past the free failures one at a time", () => {
    const { b } = backoff();
    for (let i = 0; i < LOGIN_FREE_FAILURES_PER_USERNAME - 1; i++) b.fail("alice");
    // The tenth attempt is under way: the others sent with it wait for its outcome.
    expect(b.begin("alice")).toBe(0);
    expect(b.begin("alice")).toBe(1);
    expect(b.begin("alice")).toBe(1);
  });

  it("forgets a username 15 minutes after its last failure", () => {
    const { b, clock } = backoff();
    for (let i = 0; i < LOGIN_FREE_FAILURES_PER_USERNAME + 3; i++) {
      clock.t += 10_000;
      b.fail("alice");
    }
    clock.t += 15 * 60_000;
    expect(b.begin("alice")).toBe(0);
    expect(b.size).toBe(0);
  });

  it("stays bounded, and a flood of one-off usernames does not push out one backing off", () => {
    const clock = { t: 0 };
    const b = new LoginBackoff({ now: () => clock.t, maxKeys: 100 });
    for (let i = 0; i < LOGIN_FREE_FAILURES_PER_USERNAME; i++) b.fail("alice");
    for (let i = 0; i < 10_000; i++) b.fail(`user-${i}`);
    expect(b.size).toBeLessThanOrEqual(200);
    expect(b.begin("alice")).toBe(1);
  });
});

type ErrorReply = { error: { status: string; reason: string; message: string; request_id: string } };

describe.each(DATABASES)("logins per username on %s", (kind) => {
  let h: Harness;
  let address = 0;
  // Behind a trusted proxy every guess comes from another address: the per-address throttle
  // never applies, only the one per username.
  const from = () => ({ "x-forwarded-for": `198.51.100.${++address % 250}` });
  const login = (username: string, password: string) =>
    client(h.url).post<ErrorReply & { token: string }>("/auth/login", { username, password }, from());
  const guessTenTimes = async (username: string) => {
    const statuses: number[] = [];
    for (let i = 0; i < LOGIN_FREE_FAILURES_PER_USERNAME; i++)
      statuses.push((await login(username, `wrong-${i}`)).status);
    return statuses;
  };

  beforeAll(async () => {
    h = await startHarness(kind, { env: { SIPEXT_TRUST_PROXY: "127.0.0.1" } });
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  it("ten failures from ten addresses close the username for a second, even to the right password", async () => {
    expect(await guessTenTimes(h.admin.username)).toEqual(Array(10).fill(401));
    const blocked = await login(h.admin.username, h.admin.password);
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.status).toBe("RESOURCE_EXHAUSTED");
    expect(blocked.body.error.reason).toBe("TOO_MANY_LOGIN_FAILURES");
    expect(blocked.headers.get("retry-after")).toBe("1");
    // Another username is not slowed down.
    expect((await login("someone-else", "wrong-password")).status).toBe(401);
    // Once the wait is over, the real user logs in, and the count starts again.
    await sleep(1_100);
    const ok = await login(h.admin.username, h.admin.password);
    expect(ok.status).toBe(200);
    h.secret(ok.body.token);
    expect((await login(h.admin.username, "wrong-again")).status).toBe(401);
    expect((await login(h.admin.username, h.admin.password)).status).toBe(200);
  });

  it("doubles the wait with each further failure", async () => {
    await guessTenTimes("doubling");
    expect((await login("doubling", "x")).headers.get("retry-after")).toBe("1");
    await sleep(1_100);
    expect((await login("doubling", "wrong-11")).status).toBe(401);
    expect((await login("doubling", "x")).headers.get("retry-after")).toBe("2");
  });

  it("answers an unknown username exactly as a known one", async () => {
    const customerId = h.admin.customerId;
    await h.server.core.services.tenants.createUser(customerId, {
      username: `known-${kind}`,
      password: "known-pass-123",
      role: "agent",
    });
    const run = async (username: string) => {
      const steps = [];
      for (let i = 0; i <= LOGIN_FREE_FAILURES_PER_USERNAME; i++) {
        const r = await login(username, `wrong-${i}`);
        const { request_id: _id, ...error } = r.body.error;
        steps.push({ status: r.status, error, retryAfter: r.headers.get("retry-after") });
      }
      return steps;
    };
    const known = await run(`known-${kind}`);
    const unknown = await run(`unknown-${kind}`);
    expect(unknown).toEqual(known);
    expect(known.at(-1)?.status).toBe(429);
  });
});

describe.each(DATABASES)("SIPEXT_TRUST_PROXY on %s", (kind) => {
  describe("behind a trusted proxy", () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness(kind, { env: { SIPEXT_TRUST_PROXY: "10.9.0.0/16, 127.0.0.1/32, ::1" } });
    });
    afterAll(async () => {
      await stopHarness(h);
    });
    const attempt = (xff: string, i: number) =>
      client(h.url).post(
        "/auth/login",
        { username: `guess-${i}`, password: "wrong" },
        { "x-forwarded-for": xff },
      );

    it("throttles two clients with different X-Forwarded-For separately, and logs their addresses", async () => {
      for (let i = 0; i < LOGIN_FAILURES_PER_MINUTE; i++)
        expect((await attempt("203.0.113.10", i)).status).toBe(401);
      expect((await attempt("203.0.113.10", 100)).status).toBe(429);
      expect((await attempt("203.0.113.20", 101)).status).toBe(401);
      expect(h.logs()).toContain('"ip":"203.0.113.10"');
      expect(h.logs()).toContain('"ip":"203.0.113.20"');
    });

    it("takes the right-most address that is not a trusted proxy", async () => {
      // A client cannot pick its address by writing one in front of what the proxy appended ...
      expect((await attempt("198.51.100.77, 203.0.113.10", 102)).status).toBe(429);
      // ... and a chain of trusted proxies is walked through to the client.
      expect((await attempt("203.0.113.10, 10.9.1.1", 103)).status).toBe(429);
      expect((await attempt("203.0.113.10, 10.9.1.1, 203.0.113.30", 104)).status).toBe(401);
    });
  });

  describe("from a peer that is not a trusted proxy", () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness(kind, { env: { SIPEXT_TRUST_PROXY: "192.0.2.0/24" } });
    });
    afterAll(async () => {
      await stopHarness(h);
    });

    it("ignores X-Forwarded-For: every guess counts against the peer's address", async () => {
      const attempt = (i: number) =>
        client(h.url).post(
          "/auth/login",
          { username: `guess-${i}`, password: "wrong" },
          { "x-forwarded-for": `203.0.113.${i}` },
        );
      for (let i = 0; i < LOGIN_FAILURES_PER_MINUTE; i++) expect((await attempt(i)).status).toBe(401);
      expect((await attempt(200)).status).toBe(429);
      expect(h.logs()).toContain('"ip":"127.0.0.1"');
      expect(h.logs()).not.toContain('"ip":"203.0.113.');
    });
  });
});
