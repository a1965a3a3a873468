// Rows written straight into a test database, for store-level tests that need a tenant to hang
// their rows on (the foreign keys) without going through the services.
import type { Kysely } from "kysely";
import type { ExtensionRow } from "../../src/store/ports.js";
import type { Database } from "../../src/store/schema.js";

const CREATED = "2027-01-01 00:00:00.000000";

/** One customer and its domain. */
export async function insertTenantRows(
  db: Kysely<Database>,
  t: { customerId: string; domainId?: string; domainName?: string },
): Promise<void> {
  await db
    .insertInto("customers")
    .values({
      id: t.customerId,
      name: "c",
      detail: "",
      email: "",
      billing_account_id: "",
      status: "active",
      tm_create: CREATED,
      tm_update: null,
      tm_delete: null,
    })
    .execute();
  if (t.domainId === undefined) return;
  await db
    .insertInto("domains")
    .values({
      id: t.domainId,
      customer_id: t.customerId,
      name: "d",
      detail: "",
      domain_name: t.domainName ?? "c.example",
      tm_create: CREATED,
      tm_update: null,
      tm_delete: null,
    })
    .execute();
}

/** An extension's row, with placeholder secrets (for the bindings' and calls' foreign keys). */
export function extensionRow(e: {
  id: string;
  customerId: string;
  domainId: string;
  extension?: string;
  directHash?: string;
  tmCreate?: string;
}): ExtensionRow {
  return {
    id: e.id,
    customer_id: e.customerId,
    domain_id: e.domainId,
    name: "",
    detail: "",
    extension: e.extension ?? "100",
    ha1_md5: "x",
    ha1_sha256: "y",
    password_enc: null,
    direct_hash: e.directHash ?? "abcdefabcdef",
    tm_create: e.tmCreate ?? CREATED,
    tm_update: null,
    tm_delete: null,
  };
}
