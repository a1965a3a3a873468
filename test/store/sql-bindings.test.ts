// The binding store's batched writes on both databases: multi-row upserts, several writes of one
// binding in a batch, deletes between them; what is stored must be what applying each write in
// order would leave.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Db, openDatabase } from "../../src/store/db.js";
import type { BindingRow, BindingWrite, Stores } from "../../src/store/ports.js";
import { sqlStores } from "../../src/store/sql-stores.js";
import { DATABASES, dropSchema, newSchemaUrl } from "../helpers/harness.js";
import { insertTenantRows } from "../helpers/rows.js";

const CUSTOMER = "00000000-0000-4000-8000-000000000001";
const DOMAIN = "00000000-0000-4000-8000-0000000000d1";
const EXTENSIONS = [1, 2, 3].map((n) => `00000000-0000-4000-8000-0000000000e${n}`);
const FUTURE = "2099-01-01 00:00:00.000000";

function binding(ext: number, contact: number, version: number): BindingRow {
  return {
    extension_id: EXTENSIONS[ext] ?? "",
    contact: `sip:${contact}@10.0.0.${ext}:5060`,
    customer_id: CUSTOMER,
    received_ip: "10.0.0.1",
    received_port: 5000 + version,
    transport: "udp",
    user_agent: `ua v${version}`,
    call_id: `call-${ext}-${contact}`,
    cseq: version,
    instance_id: "",
    expires: 3600,
    tm_expire: FUTURE,
    tm_create: `2027-01-01 00:00:00.${version.toString().padStart(6, "0")}`,
    tm_update: `2027-01-01 00:00:01.${version.toString().padStart(6, "0")}`,
  };
}

/** What applying the writes one by one leaves (a refresh keeps the first tm_create). */
function model(writes: BindingWrite[], before = new Map<string, BindingRow>()) {
  const m = new Map(before);
  for (const w of writes) {
    if (w.op === "upsert") {
      const key = `${w.row.extension_id} ${w.row.contact}`;
      const old = m.get(key);
      m.set(key, old ? { ...w.row, tm_create: old.tm_create } : w.row);
    } else if (w.op === "delete") m.delete(`${w.extensionId} ${w.contact}`);
    else for (const k of [...m.keys()]) if (k.startsWith(`${w.extensionId} `)) m.delete(k);
  }
  return m;
}

const sorted = (rows: BindingRow[]) =>
  [...rows].sort((a, b) => `${a.extension_id}${a.contact}`.localeCompare(`${b.extension_id}${b.contact}`));

describe.each(DATABASES)("binding store batches on %s", (kind) => {
  let dir: string;
  let url: string | undefined;
  let db: Db;
  let stores: Stores;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sipext-bindings-"));
    url = kind === "postgres" ? newSchemaUrl() : undefined;
    db = await openDatabase({ dataDir: dir, databaseUrl: url });
    stores = sqlStores(db.kysely);
    await insertTenantRows(db.kysely, { customerId: CUSTOMER, domainId: DOMAIN });
    for (const [i, id] of EXTENSIONS.entries()) {
      await stores.extensions.insert({
        id,
        customer_id: CUSTOMER,
        domain_id: DOMAIN,
        name: "",
        detail: "",
        extension: `${100 + i}`,
        ha1_md5: "x",
        ha1_sha256: "y",
        password_enc: null,
        direct_hash: `hash${i}`,
        tm_create: `2027-01-01 00:00:00.00000${i}`,
        tm_update: null,
        tm_delete: null,
      });
    }
  });

  afterEach(async () => {
    await db.close();
    await dropSchema(url);
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores what the writes applied in order leave, across chunk sizes, repeats and deletes", async () => {
    const first: BindingWrite[] = [];
    // 150 distinct bindings (chunks of 64, 8 and 1), one of them written three times.
    for (let c = 0; c < 150; c++) first.push({ op: "upsert", row: binding(c % 3, c, 1) });
    first.push({ op: "upsert", row: binding(0, 0, 2) }, { op: "upsert", row: binding(0, 0, 3) });
    first.push({ op: "delete", extensionId: EXTENSIONS[1] ?? "", contact: binding(1, 1, 1).contact });
    // Written again after its delete: back, as new.
    first.push({ op: "upsert", row: binding(1, 1, 4) });
    await stores.bindings.apply(first);
    const afterFirst = model(first);
    expect(sorted(await stores.bindings.loadLive("2027-01-01 00:00:00.000000"))).toEqual(
      sorted([...afterFirst.values()]),
    );

    // A second batch: refreshes keep the stored tm_create; a delete-all in the middle.
    const second: BindingWrite[] = [
      { op: "upsert", row: binding(0, 0, 9) },
      { op: "upsert", row: binding(2, 2, 9) },
      { op: "delete-all", extensionId: EXTENSIONS[2] ?? "" },
      { op: "upsert", row: binding(2, 5, 9) },
    ];
    await stores.bindings.apply(second);
    const stored = sorted(await stores.bindings.loadLive("2027-01-01 00:00:00.000000"));
    expect(stored).toEqual(sorted([...model(second, afterFirst).values()]));
    const refreshed = stored.find(
      (r) => r.extension_id === EXTENSIONS[0] && r.contact === binding(0, 0, 0).contact,
    );
    expect(refreshed?.cseq).toBe(9);
    expect(refreshed?.tm_create).toBe(binding(0, 0, 1).tm_create);
    expect(stored.filter((r) => r.extension_id === EXTENSIONS[2]).map((r) => r.contact)).toEqual([
      binding(2, 5, 9).contact,
    ]);
  });
});
