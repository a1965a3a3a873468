import { type Kysely, sql } from "kysely";

// Only portable types (text, integer) so that one migration runs on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("customers")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("detail", "text", (c) => c.notNull())
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("billing_account_id", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("tm_update", "text")
    .addColumn("tm_delete", "text")
    .execute();

  await db.schema
    .createTable("domains")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("customer_id", "text", (c) => c.notNull().references("customers.id"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("detail", "text", (c) => c.notNull())
    .addColumn("domain_name", "text", (c) => c.notNull().unique())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("tm_update", "text")
    .addColumn("tm_delete", "text")
    .execute();
  await db.schema
    .createIndex("domains_customer")
    .on("domains")
    .columns(["customer_id", "tm_create"])
    .execute();

  await db.schema
    .createTable("users")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("customer_id", "text", (c) => c.notNull().references("customers.id"))
    .addColumn("username", "text", (c) => c.notNull().unique())
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("detail", "text", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("tm_update", "text")
    .addColumn("tm_delete", "text")
    .execute();

  await db.schema
    .createTable("access_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("customer_id", "text", (c) => c.notNull().references("customers.id"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("detail", "text", (c) => c.notNull())
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("token_prefix", "text", (c) => c.notNull())
    .addColumn("tm_expire", "text", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("tm_update", "text")
    .addColumn("tm_delete", "text")
    .execute();
  await db.schema
    .createIndex("access_keys_customer_tm_create")
    .on("access_keys")
    .columns(["customer_id", "tm_create"])
    .unique()
    .execute();

  await db.schema
    .createTable("extensions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("customer_id", "text", (c) => c.notNull().references("customers.id"))
    .addColumn("domain_id", "text", (c) => c.notNull().references("domains.id"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("detail", "text", (c) => c.notNull())
    .addColumn("extension", "text", (c) => c.notNull())
    .addColumn("password_enc", "text")
    .addColumn("ha1_md5", "text", (c) => c.notNull())
    .addColumn("ha1_sha256", "text", (c) => c.notNull())
    .addColumn("direct_hash", "text", (c) => c.notNull().unique())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("tm_update", "text")
    .addColumn("tm_delete", "text")
    .execute();
  // One live extension per name and customer; a deleted one frees its name.
  await db.schema
    .createIndex("extensions_live_name")
    .on("extensions")
    .columns(["customer_id", "extension"])
    .unique()
    .where(sql.ref("tm_delete"), "is", null)
    .execute();
  // tm_create is unique per customer: it is the page token, so two items sharing one would make
  // paging skip or repeat. The store bumps a colliding insert by a microsecond.
  await db.schema
    .createIndex("extensions_customer_tm_create")
    .on("extensions")
    .columns(["customer_id", "tm_create"])
    .unique()
    .execute();
  await db.schema
    .createIndex("extensions_live_page")
    .on("extensions")
    .columns(["customer_id", "tm_create"])
    .where(sql.ref("tm_delete"), "is", null)
    .execute();
}
