// The deployment bus over PostgreSQL's LISTEN/NOTIFY (CONTRACT §15) when its listening connection
// is cut (PostgreSQL restarted, a proxy dropping idle connections): the node says it stopped
// hearing, listens again on a new connection, and what it missed meanwhile is read back — the
// other nodes' bindings from the database. Real PostgreSQL; the connection is cut from the server
// side (pg_terminate_backend), as a restart would.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { syncLocation } from "../../src/adapters/deployment-sync.js";
import { sqlLocationStore } from "../../src/adapters/sql-location-store.js";
import { type DeploymentBus, postgresBus } from "../../src/deployment-bus.js";
import { LocationService } from "../../src/sip/registrar/location.js";
import { type Db, openDatabase } from "../../src/store/db.js";
import { cutBusListeners, DATABASES, dropSchema, newSchemaUrl } from "../helpers/harness.js";
import { contact, origin } from "../helpers/registrations.js";
import { extensionRow, insertTenantRows } from "../helpers/rows.js";
import { until } from "../sip/raw-sip.js";

const customerId = "00000000-0000-4000-8000-000000000001";
const domainId = "00000000-0000-4000-8000-0000000000d1";
const extId = "00000000-0000-4000-8000-0000000000e1";

// Skipped on SQLite for a reason: one node alone there, no bus.
describe.runIf(DATABASES.includes("postgres"))("deployment bus on PostgreSQL", () => {
  let url: string;
  let dir: string;
  let db: Db;
  const buses: DeploymentBus[] = [];
  const errors: unknown[] = [];
  const onError = (err: unknown) => errors.push(err);

  beforeEach(async () => {
    url = newSchemaUrl();
    dir = mkdtempSync(join(tmpdir(), "sipext-bus-"));
    db = await openDatabase({ dataDir: dir, databaseUrl: url });
    await insertTenantRows(db.kysely, { customerId, domainId });
    await db.kysely
      .insertInto("extensions")
      .values(extensionRow({ id: extId, customerId, domainId }))
      .execute();
  });

  afterEach(async () => {
    for (const b of buses.splice(0)) await b.close();
    await db.close();
    await dropSchema(url);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a node whose listening connection is cut says so, listens again and hears the others", async () => {
    const a = await postgresBus(url, onError);
    const b = await postgresBus(url, onError, { relistenMs: 100 });
    buses.push(a, b);
    let lost = 0;
    let regained = 0;
    const heard: string[] = [];
    b.onLost(() => lost++);
    b.onRegained(() => regained++);
    b.subscribe("t", (p) => heard.push(p));
    a.publish("t", "before");
    await until("the first message", () => heard.length === 1);
    expect(await cutBusListeners(url)).toBe(2);
    await until("both lost and regained", () => lost === 1 && regained === 1);
    a.publish("t", "after");
    await until("the message after", () => heard.length === 2);
    expect(heard).toEqual(["before", "after"]);
    // A second cut is survived too.
    await cutBusListeners(url);
    await until("the second regain", () => lost === 2 && regained === 2);
  });

  it("bindings changed while a node was deaf are read back once it hears again", async () => {
    const now = () => Date.now() * 1000;
    const store = sqlLocationStore(db.kysely);
    const nodeA = new LocationService({ store, clock: now, node: { id: "a", address: "10.0.0.1:5060" } });
    const nodeB = new LocationService({ store, clock: now, node: { id: "b", address: "10.0.0.2:5060" } });
    const a = await postgresBus(url, onError);
    const b = await postgresBus(url, onError, { relistenMs: 1_000 });
    buses.push(a, b);
    syncLocation(a, nodeA, store, onError);
    syncLocation(b, nodeB, store, onError);
    let lost = 0;
    let regained = 0;
    b.onLost(() => lost++);
    b.onRegained(() => regained++);
    const contacts = () => nodeB.lookup(extId).map((x) => x.contact);

    nodeA.register(extId, customerId, [contact(1)], origin("c1", 1));
    await nodeA.flush();
    await until("B to hear contact 1", () => contacts().length === 1);

    await cutBusListeners(url);
    await until("B to lose the bus", () => lost === 1);
    // While B listens again (a second later), A replaces contact 1 by contact 2: B hears nothing.
    nodeA.register(extId, customerId, [{ ...contact(1), expires: 0 }, contact(2)], origin("c1", 2));
    await nodeA.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(contacts()).toEqual([contact(1).contact]);

    await until("B to listen again", () => regained === 1);
    await until("B to read the bindings back", () => contacts()[0] === contact(2).contact);
    expect(contacts()).toEqual([contact(2).contact]);
    // The cut connection's error is told (logged by the server), nothing else went wrong.
    expect(errors.every((e) => /terminat/i.test(String(e)))).toBe(true);
  });
});
