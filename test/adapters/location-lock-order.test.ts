// Two nodes (or two workers) writing bindings behind into one PostgreSQL schema at once: each batch
// is one transaction that upserts bindings and bumps the event counter of every customer it
// touches. Taken in the order the writes came, two batches naming the same customers in opposite
// orders lock those rows in opposite orders — PostgreSQL's "deadlock detected", seen by
// `bench:calls -- --workers 2`. Rows are now locked in one order (customers and bindings sorted).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqlLocationStore } from "../../src/adapters/sql-location-store.js";
import type { LocationWrite } from "../../src/sip/registrar/location-store.js";
import { type Db, openDatabase } from "../../src/store/db.js";
import { sqlStores } from "../../src/store/sql-stores.js";
import { DATABASES, dropSchema, newSchemaUrl } from "../helpers/harness.js";
import { extensionRow, insertTenantRows } from "../helpers/rows.js";

const CUSTOMERS = [1, 2, 3, 4].map((n) => `00000000-0000-4000-8000-00000000000${n}`);
const extensionOf = (c: number) => `00000000-0000-4000-8000-0000000000e${c}`;
const FAR = 4_102_444_800_000_000; // 2100, in microseconds

function registered(c: number, node: string, round: number): LocationWrite {
  return {
    op: "upsert",
    added: true,
    extensionId: extensionOf(c),
    customerId: CUSTOMERS[c] ?? "",
    binding: {
      contact: `sip:${node}-${round}@10.0.0.${c}:5060`,
      receivedIp: "10.0.0.1",
      receivedPort: 5060,
      transport: "UDP",
      userAgent: "lock-order",
      callId: `${node}-${c}-${round}`,
      cseq: 1,
      instanceId: "",
      regId: undefined,
      q: undefined,
      node,
      nodeAddress: "",
      path: [],
      expires: 3600,
      expireAt: FAR,
      createdAt: FAR - 3_600_000_000,
      updatedAt: FAR - 3_600_000_000,
    },
  };
}

describe.runIf(DATABASES.includes("postgres"))("write-behind of two nodes on one PostgreSQL", () => {
  const url = newSchemaUrl();
  const dirs = [mkdtempSync(join(tmpdir(), "sipext-lock-")), mkdtempSync(join(tmpdir(), "sipext-lock-"))];
  let nodes: Db[] = [];

  beforeAll(async () => {
    nodes = [await openDatabase({ dataDir: dirs[0] ?? "", databaseUrl: url })];
    nodes.push(await openDatabase({ dataDir: dirs[1] ?? "", databaseUrl: url }));
    const db = nodes[0] as Db;
    const stores = sqlStores(db.kysely);
    for (const [c, customerId] of CUSTOMERS.entries()) {
      const domainId = `00000000-0000-4000-8000-0000000000d${c}`;
      await insertTenantRows(db.kysely, { customerId, domainId, domainName: `c${c}.example` });
      await stores.extensions.insert(
        extensionRow({ id: extensionOf(c), customerId, domainId, directHash: `hash${c}` }),
      );
    }
  });

  afterAll(async () => {
    for (const n of nodes) await n.close();
    await dropSchema(url);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("batches naming the same customers in opposite orders never deadlock, and every event is kept", async () => {
    const [a, b] = nodes.map((n) =>
      sqlLocationStore(n.kysely, { events: true, now: () => Date.now() * 1000 }),
    );
    const order = [0, 1, 2, 3];
    const reverse = [...order].reverse();
    const rounds = 30;
    for (let round = 0; round < rounds; round++) {
      await Promise.all([
        a?.apply(order.map((c) => registered(c, "a", round))),
        b?.apply(reverse.map((c) => registered(c, "b", round))),
      ]);
    }
    const db = (nodes[0] as Db).kysely;
    const events = await db.selectFrom("events").select(["customer_id", "seq"]).execute();
    expect(events).toHaveLength(rounds * 2 * CUSTOMERS.length);
    // Per customer, seq runs 1..n without a gap or a repeat.
    for (const customerId of CUSTOMERS) {
      const seqs = events
        .filter((e) => e.customer_id === customerId)
        .map((e) => Number(e.seq))
        .sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: rounds * 2 }, (_, i) => i + 1));
    }
  }, 120_000);
});
