import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CallRecording, MAX_ANSWERED_US, recordCalls } from "../../src/adapters/call-records.js";
import type { CallResult, CallStart } from "../../src/sip/proxy/call-events.js";
import { type Db, openDatabase } from "../../src/store/db.js";
import { EventNotifier } from "../../src/store/events.js";
import { outboxOf } from "../../src/store/outbox.js";
import { type CallChange, type CallStore, sqlCallStore } from "../../src/store/sql-calls.js";
import { DATABASES, dropSchema, newSchemaUrl } from "../helpers/harness.js";
import { insertTenantRows } from "../helpers/rows.js";

const T0 = 1_800_000_000_000_000;
const CUSTOMER = "00000000-0000-4000-8000-0000000000c1";

describe.each(DATABASES)("call records on %s", (kind) => {
  let dir: string;
  let url: string | undefined;
  let db: Db;
  let now: number;
  let store: CallStore;
  /** the batches the store was given (a count of transactions) */
  let batches: CallChange[][];
  let ended: CallResult[];
  let errors: unknown[];
  let told: string[];
  let n = 0;

  const recorder = (calls: CallStore = store): CallRecording =>
    recordCalls({
      calls,
      clock: () => now,
      onEnded: (r) => ended.push(r),
      onError: (err) => errors.push(err),
    });
  const start = (rec: CallRecording, callId = `call-${++n}`): CallStart => {
    const c: CallStart = {
      key: `key-${callId}`,
      callId,
      fromUri: "sip:a@example.net",
      toUri: "sip:100@c.example",
      extensionId: "00000000-0000-4000-8000-0000000000e1",
      customerId: CUSTOMER,
      callerExtensionId: "",
      direct: false,
      source: "127.0.0.1:5060",
    };
    rec.started(c);
    return c;
  };
  const rows = () => db.kysely.selectFrom("calls").selectAll().orderBy("tm_create").execute();
  const events = async () =>
    (await db.kysely.selectFrom("events").select(["seq", "type"]).orderBy("seq").execute()).map((e) => [
      Number(e.seq),
      e.type,
    ]);

  beforeEach(async () => {
    now = T0;
    dir = mkdtempSync(join(tmpdir(), "sipext-calls-"));
    url = kind === "postgres" ? newSchemaUrl() : undefined;
    db = await openDatabase({ dataDir: dir, databaseUrl: url });
    await insertTenantRows(db.kysely, { customerId: CUSTOMER });
    batches = [];
    ended = [];
    errors = [];
    told = [];
    const notifier = new EventNotifier();
    notifier.subscribeAll((c) => told.push(c));
    const real = sqlCallStore(db.kysely, outboxOf(db.kysely, { notifier, events: true }));
    store = {
      ...real,
      apply: (changes) => {
        batches.push([...changes]);
        return real.apply(changes);
      },
    };
  });

  afterEach(async () => {
    await db.close();
    await dropSchema(url);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a call started, answered and hung up within one batch is one insert with its three events in order", async () => {
    const rec = recorder();
    const c = start(rec);
    now += 1_000;
    rec.answered(c.key);
    now += 2_500_000;
    rec.hungUp(c.callId);
    await rec.settled();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.map((b) => b.from)).toEqual([null]);
    const [row] = await rows();
    expect(row).toMatchObject({ status: "ended", result: "answered", sip_code: 200, duration_ms: 2500 });
    expect(await events()).toEqual([
      [1, "call_started"],
      [2, "call_answered"],
      [3, "call_ended"],
    ]);
    expect(ended).toEqual(["answered"]);
    expect(told).toEqual([CUSTOMER]);
  });

  it("changes in separate batches update the stored row from the status it has", async () => {
    const rec = recorder();
    const c = start(rec);
    await rec.settled();
    expect((await rows())[0]?.status).toBe("ringing");
    now += 1_000;
    rec.answered(c.key);
    await rec.settled();
    expect((await rows())[0]).toMatchObject({ status: "answered", result: "answered" });
    now += 61_000_000;
    rec.hungUp(c.callId);
    await rec.settled();
    expect(batches.map((b) => b.map((x) => x.from))).toEqual([[null], ["ringing"], ["answered"]]);
    expect((await rows())[0]).toMatchObject({ status: "ended", duration_ms: 61_000 });
    expect((await events()).map(([, t]) => t)).toEqual(["call_started", "call_answered", "call_ended"]);
  });

  it("a hundred calls in one batch: a hundred rows, numbered events, one transaction", async () => {
    const rec = recorder();
    const calls = Array.from({ length: 100 }, () => start(rec));
    for (const c of calls.slice(0, 50)) rec.failed(c.key, 486, "busy");
    await rec.settled();
    expect(batches).toHaveLength(1);
    const stored = await rows();
    expect(stored).toHaveLength(100);
    expect(stored.filter((r) => r.result === "busy" && r.sip_code === 486)).toHaveLength(50);
    const seqs = (await events()).map(([s]) => s);
    expect(seqs).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(ended).toHaveLength(50);
  });

  it("a BYE through another node ends the call answered here, once", async () => {
    const here = recorder();
    const there = recorder();
    const c = start(here);
    now += 1_000;
    here.answered(c.key);
    await here.settled();
    now += 5_000_000;
    there.hungUp(c.callId);
    await there.settled();
    expect((await rows())[0]).toMatchObject({ status: "ended", duration_ms: 5000 });
    // The same BYE seen here too (both parties hung up): the row has already ended.
    here.hungUp(c.callId);
    await here.settled();
    expect((await events()).map(([, t]) => t)).toEqual(["call_started", "call_answered", "call_ended"]);
    expect(ended).toEqual(["answered"]);
  });

  it("a BYE through another node right after the answer, before it is written, still ends the call", async () => {
    const here = recorder();
    const there = recorder();
    const c = start(here);
    now += 1_000;
    here.answered(c.key);
    now += 40_000;
    there.hungUp(c.callId);
    await there.settled();
    await here.settled();
    expect((await rows())[0]).toMatchObject({ status: "ended", duration_ms: 40 });
  });

  it("a BYE for a call nobody answered changes nothing", async () => {
    const rec = recorder();
    start(rec, "ringing-call");
    await rec.settled();
    rec.hungUp("ringing-call");
    rec.hungUp("unknown-call");
    await rec.settled();
    expect((await rows())[0]?.status).toBe("ringing");
    expect(ended).toEqual([]);
  });

  it("the sweep ends a call answered and never hung up, MAX_ANSWERED after it started", async () => {
    const rec = recorder();
    const c = start(rec);
    now += 2_000_000;
    rec.answered(c.key);
    await rec.settled();
    now += MAX_ANSWERED_US - 3_000_000;
    expect(await rec.sweep()).toBe(0);
    now += 2_000_000;
    expect(await rec.sweep()).toBe(1);
    const [row] = await rows();
    expect(row).toMatchObject({ status: "ended", duration_ms: MAX_ANSWERED_US / 1000 - 2000 });
    // Its BYE, late: nothing more.
    rec.hungUp(c.callId);
    await rec.settled();
    expect(ended).toEqual(["answered"]);
    expect((await events()).map(([, t]) => t)).toEqual(["call_started", "call_answered", "call_ended"]);
  });

  it("a batch that fails is reported and the calls after it are recorded", async () => {
    let fail = true;
    const rec = recorder({
      ...store,
      apply: (changes) => {
        if (!fail) return store.apply(changes);
        fail = false;
        return Promise.reject(new Error("disk I/O error"));
      },
    });
    start(rec);
    await rec.settled();
    expect(errors.map((e) => (e as Error).message)).toEqual(["disk I/O error"]);
    start(rec);
    await rec.settled();
    expect(await rows()).toHaveLength(1);
  });
});
