// CONTRACT §3: paging never skips or repeats an item, even when many items share a timestamp —
// here every item is created at the same frozen microsecond, by one node and by two nodes sharing
// one database. And a name race: of concurrent creations of one extension, exactly one wins.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "../../src/contract/common.js";
import type { Extension } from "../../src/contract/extension.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";

/** 2021-02-18 12:42:27.688282 UTC, the seed's first timestamp, as microseconds since the epoch. */
const FIXED_MICROS = Date.UTC(2021, 1, 18, 12, 42, 27) * 1000 + 688_282;
const frozen = () => FIXED_MICROS;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;

/**
 * Follows next_page_token from the first page to the empty one, asking the clients in turn
 * (one client: one node; several: the walk hops between nodes). Checks every page's envelope.
 */
async function walk(clients: Client[], pageSize: number, afterPage?: (page: Extension[]) => Promise<void>) {
  const seen: Extension[] = [];
  let token = "";
  let pages = 0;
  for (;;) {
    const api = clients[pages % clients.length] as Client;
    const query = `page_size=${pageSize}${token ? `&page_token=${encodeURIComponent(token)}` : ""}`;
    const res = await api.get<Page<Extension>>(`/v1.0/extensions?${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    pages++;
    const { result, next_page_token } = res.body;
    if (result.length === 0) {
      expect(next_page_token).toBe("");
      return { seen, pages };
    }
    expect(result.length).toBeLessThanOrEqual(pageSize);
    expect(next_page_token).toBe(result[result.length - 1]?.tm_create);
    seen.push(...result);
    token = next_page_token;
    if (afterPage) await afterPage(result);
    if (pages > 10_000) throw new Error("the walk never ended");
  }
}

function expectStrictlyNewestFirst(items: Extension[]): void {
  for (let i = 1; i < items.length; i++) {
    const newer = items[i - 1]?.tm_create ?? "";
    const older = items[i]?.tm_create ?? "";
    if (!(newer > older)) throw new Error(`item ${i}: ${newer} is not after ${older}`);
  }
}

/** Runs `work` over `items` with at most `width` in flight. */
async function inBatches<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) {
    out.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  }
  return out;
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe.each(DATABASES)("paging on %s", (kind) => {
  describe("250 extensions created while the clock is frozen", () => {
    let h: Harness;
    let api: Client;
    let created: Extension[] = [];

    beforeAll(async () => {
      h = await startHarness(kind, { clock: frozen });
      api = client(h.url, h.admin.token);
    });
    afterAll(async () => {
      await stopHarness(h);
    });

    const post = async (as: Client, extension: string) => {
      const res = await as.post<Extension>("/v1.0/extensions", { extension });
      if (res.status === 200) h.secret(res.body.password);
      return res;
    };

    it("creates all 250, each with its own tm_create although the clock never moves", async () => {
      const answers = await inBatches(names("f", 250), 10, (n) => post(api, n));
      expect(answers.map((r) => r.status)).toEqual(Array(250).fill(200));
      created = answers.map((r) => r.body);
      const stamps = new Set(created.map((e) => e.tm_create));
      expect(stamps.size).toBe(250);
      for (const s of stamps) expect(s).toMatch(TIMESTAMP);
      // Nothing is dated before the clock: a collision moves an item later, never earlier.
      expect([...stamps].every((s) => s >= "2021-02-18 12:42:27.688282")).toBe(true);
    });

    it("walks them with page_size=7, each exactly once, in strictly descending tm_create", async () => {
      const { seen, pages } = await walk([api], 7);
      expect(seen).toHaveLength(250);
      expect(new Set(seen.map((e) => e.id)).size).toBe(250);
      expect(new Set(seen.map((e) => e.id))).toEqual(new Set(created.map((e) => e.id)));
      expectStrictlyNewestFirst(seen);
      expect(pages).toBe(Math.ceil(250 / 7) + 1);
    });

    it("walks them with the page token in RFC 3339 form just the same", async () => {
      const seen: Extension[] = [];
      let token = "";
      for (;;) {
        const rfc = token ? `&page_token=${encodeURIComponent(`${token.replace(" ", "T")}Z`)}` : "";
        const res = await api.get<Page<Extension>>(`/v1.0/extensions?page_size=13${rfc}`);
        if (res.body.result.length === 0) break;
        seen.push(...res.body.result);
        token = res.body.next_page_token;
      }
      expect(seen.map((e) => e.id)).toEqual((await walk([api], 13)).seen.map((e) => e.id));
      expect(new Set(seen.map((e) => e.id)).size).toBe(250);
    });

    it("sees every surviving item exactly once while items are created and deleted during the walk", async () => {
      const order = (await walk([api], 100)).seen.map((e) => e.id);
      const deleted = new Set<string>();
      const added = new Set<string>();
      let n = 0;
      const { seen } = await walk([api], 7, async (page) => {
        // Delete an item the walk has not reached yet, and create a new one (newer than the cursor).
        const ahead = order[order.indexOf(page[page.length - 1]?.id ?? "") + 5];
        if (ahead !== undefined) {
          expect((await api.del(`/v1.0/extensions/${ahead}`)).status).toBe(200);
          deleted.add(ahead);
        }
        const res = await post(api, `during${n++}`);
        expect(res.status).toBe(200);
        added.add(res.body.id as string);
      });
      const ids = seen.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.filter((id) => deleted.has(id))).toEqual([]);
      expect(ids.filter((id) => added.has(id))).toEqual([]);
      expect(ids).toEqual(order.filter((id) => !deleted.has(id)));
      expect(deleted.size).toBeGreaterThan(20);
    });

    it("lets exactly one of 20 concurrent creations of one extension name succeed; 19 get 409", async () => {
      const answers = await Promise.all(Array.from({ length: 20 }, () => post(api, "race-1")));
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses).toEqual([200, ...Array(19).fill(409)]);
      for (const r of answers.filter((a) => a.status === 409)) {
        expect((r.body as unknown as { error: { reason: string } }).error.reason).toBe(
          "EXTENSION_ALREADY_EXISTS",
        );
      }
      const live = (await walk([api], 100)).seen.filter((e) => e.extension === "race-1");
      expect(live).toHaveLength(1);
    });

    it("never stores or logs a password or token in clear", async () => {
      await h.assertNoPlaintextSecrets();
    });
  });

  describe("two servers sharing one database, both with the same frozen clock", () => {
    let h1: Harness;
    let h2: Harness;
    let api1: Client;
    let api2: Client;

    beforeAll(async () => {
      h1 = await startHarness(kind, { clock: frozen });
      // Nodes of one deployment share the database and the keys (CONTRACT §1, secrets.ts): the
      // same data dir gives both the same JWT and encryption keys, on PostgreSQL too.
      h2 = await startHarness(kind, { clock: frozen, dataDir: h1.dataDir, databaseUrl: h1.databaseUrl });
      api1 = client(h1.url, h1.admin.token);
      const login = await client(h2.url).post<{ token: string }>("/auth/login", {
        username: h1.admin.username,
        password: h1.admin.password,
      });
      expect(login.status).toBe(200);
      api2 = client(h2.url, login.body.token);
      for (const h of [h1, h2]) {
        h.secret(h1.admin.password);
        h.secret(h1.admin.token);
        h.secret(login.body.token);
      }
    });
    afterAll(async () => {
      await h2?.close();
      await stopHarness(h1);
    });

    const post = async (as: Client, extension: string) => {
      const res = await as.post<Extension>("/v1.0/extensions", { extension });
      if (res.status === 200) for (const h of [h1, h2]) h.secret(res.body.password);
      return res;
    };

    it("does not bootstrap the shared database a second time", () => {
      expect(h2.server.firstRun).toBeUndefined();
      expect(h1.server.firstRun).toBeDefined();
    });

    it("creates 60 extensions on each node at once, all for the same customer", async () => {
      const answers = await Promise.all([
        ...names("a", 60).map((n) => post(api1, n)),
        ...names("b", 60).map((n) => post(api2, n)),
      ]);
      expect(answers.map((r) => r.status)).toEqual(Array(120).fill(200));
      expect(new Set(answers.map((r) => r.body.customer_id))).toEqual(new Set([h1.admin.customerId]));
      expect(new Set(answers.map((r) => r.body.tm_create)).size).toBe(120);
    });

    it("walks all 120 across both nodes, each exactly once, newest first", async () => {
      for (const clients of [[api1], [api2], [api1, api2]]) {
        const { seen } = await walk(clients, 7);
        expect(seen).toHaveLength(120);
        expect(new Set(seen.map((e) => e.id)).size).toBe(120);
        expect(new Set(seen.map((e) => e.extension))).toEqual(
          new Set([...names("a", 60), ...names("b", 60)]),
        );
        expectStrictlyNewestFirst(seen);
      }
    });

    it("lets exactly one of 20 creations of one name, split over both nodes, succeed", async () => {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => post(i % 2 === 0 ? api1 : api2, "race-2")),
      );
      expect(answers.map((r) => r.status).sort()).toEqual([200, ...Array(19).fill(409)]);
      const live = (await walk([api2], 100)).seen.filter((e) => e.extension === "race-2");
      expect(live).toHaveLength(1);
    });

    it("never stores or logs a password or token in clear on either node", async () => {
      await h1.assertNoPlaintextSecrets();
      await h2.assertNoPlaintextSecrets();
    });
  });

  describe("concurrent creations under the real clock", () => {
    let h: Harness;
    let api: Client;
    beforeAll(async () => {
      h = await startHarness(kind);
      api = client(h.url, h.admin.token);
    });
    afterAll(async () => {
      await stopHarness(h);
    });

    it("lets exactly one of 20 concurrent creations of one extension name succeed; 19 get 409", async () => {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          api.post<Extension>("/v1.0/extensions", {
            extension: "race-3",
            password: h.secret(`Race-pass-${i}-xyz`),
          }),
        ),
      );
      expect(answers.map((r) => r.status).sort()).toEqual([200, ...Array(19).fill(409)]);
      const winner = answers.find((r) => r.status === 200)?.body;
      const list = await api.get<Page<Extension>>("/v1.0/extensions");
      expect(list.body.result).toEqual([winner]);
      // The stored password is the winner's, not one of a loser's.
      const got = await api.get<Extension>(`/v1.0/extensions/${winner?.id}`);
      expect(got.body.password).toBe(winner?.password);
      await h.assertNoPlaintextSecrets();
    });
  });
});
