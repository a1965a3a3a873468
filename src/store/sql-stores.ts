// Kysely implementations of the store ports; the same SQL runs on SQLite and PostgreSQL.
import { CompiledQuery, type Kysely } from "kysely";
import { uniqueViolation } from "./db.js";
import {
  type AccessKeyStore,
  type CustomerStore,
  type DomainStore,
  type ExtensionStore,
  type ExtensionView,
  type PageQuery,
  type Stores,
  type TenantStore,
  UniqueViolationError,
  type UserStore,
} from "./ports.js";
import type { Database } from "./schema.js";
import { sqlBindingStore } from "./sql-bindings.js";

/** Turns a database unique violation into a UniqueViolationError naming the field. */
async function guardUnique<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    const which = uniqueViolation(err);
    if (which === undefined) throw err;
    if (which.includes("tm_create")) throw new UniqueViolationError("tm_create");
    if (which.includes("direct_hash")) throw new UniqueViolationError("direct_hash");
    if (which.includes("token_hash")) throw new UniqueViolationError("token_hash");
    if (which.includes("username")) throw new UniqueViolationError("username");
    if (which.includes("domain_name")) throw new UniqueViolationError("domain_name");
    if (which.includes("live_name") || which.endsWith(".extension"))
      throw new UniqueViolationError("extension");
    throw new UniqueViolationError(which || "unknown");
  }
}

function customerStore(db: Kysely<Database>): CustomerStore {
  return {
    async count() {
      const r = await db
        .selectFrom("customers")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    },
    get: (id) => db.selectFrom("customers").selectAll().where("id", "=", id).executeTakeFirst(),
  };
}

function domainStore(db: Kysely<Database>): DomainStore {
  return {
    get: (customerId, id) =>
      db
        .selectFrom("domains")
        .selectAll()
        .where("id", "=", id)
        .where("customer_id", "=", customerId)
        .executeTakeFirst(),
    getByName: (domainName) =>
      db.selectFrom("domains").selectAll().where("domain_name", "=", domainName).executeTakeFirst(),
    listByCustomer(customerId, page) {
      let q = db
        .selectFrom("domains")
        .selectAll()
        .where("customer_id", "=", customerId)
        .where("tm_delete", "is", null);
      if (page.before !== undefined) q = q.where("tm_create", "<", page.before);
      return q.orderBy("tm_create", "desc").orderBy("id", "desc").limit(page.limit).execute();
    },
  };
}

function userStore(db: Kysely<Database>): UserStore {
  return {
    insert: (row) => guardUnique(db.insertInto("users").values(row).execute()).then(() => undefined),
    get: (id) => db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst(),
    getByUsername: (username) =>
      db
        .selectFrom("users")
        .selectAll()
        .where("username", "=", username)
        .where("tm_delete", "is", null)
        .executeTakeFirst(),
  };
}

function accessKeyStore(db: Kysely<Database>): AccessKeyStore {
  return {
    insert: (row) => guardUnique(db.insertInto("access_keys").values(row).execute()).then(() => undefined),
    get: (customerId, id) =>
      db
        .selectFrom("access_keys")
        .selectAll()
        .where("id", "=", id)
        .where("customer_id", "=", customerId)
        .executeTakeFirst(),
    getByTokenHash: (tokenHash) =>
      db.selectFrom("access_keys").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst(),
    list(customerId, page) {
      let q = db
        .selectFrom("access_keys")
        .selectAll()
        .where("customer_id", "=", customerId)
        .where("tm_delete", "is", null);
      if (page.before !== undefined) q = q.where("tm_create", "<", page.before);
      return q.orderBy("tm_create", "desc").limit(page.limit).execute();
    },
    async update(customerId, id, patch) {
      const r = await db
        .updateTable("access_keys")
        .set(patch)
        .where("id", "=", id)
        .where("customer_id", "=", customerId)
        .where("tm_delete", "is", null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async latestTmCreate(customerId) {
      const r = await db
        .selectFrom("access_keys")
        .select("tm_create")
        .where("customer_id", "=", customerId)
        .orderBy("tm_create", "desc")
        .limit(1)
        .executeTakeFirst();
      return r?.tm_create;
    },
  };
}

/** Slots in a query compiled once, replaced by the real values at each execution. */
const ID_SLOT = "\u0000id";
const CUSTOMER_SLOT = "\u0000customer_id";
const NAME_SLOT = "\u0000extension";

function extensionStore(db: Kysely<Database>): ExtensionStore {
  const view = () =>
    db
      .selectFrom("extensions")
      .innerJoin("domains", "domains.id", "extensions.domain_id")
      .selectAll("extensions")
      .select("domains.domain_name");
  const one = (q: ReturnType<typeof view>): Promise<ExtensionView | undefined> => q.executeTakeFirst();
  // The hot path (GET /v1.0/extensions/{id}): the query is built and compiled once; each call only
  // puts the two values in place of the slots (about a tenth of that request's CPU saved).
  const byId = view()
    .where("extensions.id", "=", ID_SLOT)
    .where("extensions.customer_id", "=", CUSTOMER_SLOT)
    .compile();
  // The registrar's hot path (one credential lookup per authenticated REGISTER), compiled once too.
  const byName = view()
    .where("extensions.customer_id", "=", CUSTOMER_SLOT)
    .where("extensions.extension", "=", NAME_SLOT)
    .where("extensions.tm_delete", "is", null)
    .compile();
  const byIdValues = (customerId: string, id: string) =>
    byId.parameters.map((p) => (p === ID_SLOT ? id : p === CUSTOMER_SLOT ? customerId : p));
  return {
    insert: (row) => guardUnique(db.insertInto("extensions").values(row).execute()).then(() => undefined),
    get: (customerId, id) =>
      db
        .executeQuery<ExtensionView>(CompiledQuery.raw(byId.sql, byIdValues(customerId, id)))
        .then((r) => r.rows[0]),
    list(customerId, page: PageQuery) {
      let q = view()
        .where("extensions.customer_id", "=", customerId)
        .where("extensions.tm_delete", "is", null);
      if (page.before !== undefined) q = q.where("extensions.tm_create", "<", page.before);
      return q.orderBy("extensions.tm_create", "desc").limit(page.limit).execute();
    },
    async update(customerId, id, patch) {
      const r = await guardUnique(
        db
          .updateTable("extensions")
          .set(patch)
          .where("id", "=", id)
          .where("customer_id", "=", customerId)
          .where("tm_delete", "is", null)
          .executeTakeFirst(),
      );
      return Number(r.numUpdatedRows) > 0;
    },
    async latestTmCreate(customerId) {
      const r = await db
        .selectFrom("extensions")
        .select("tm_create")
        .where("customer_id", "=", customerId)
        .orderBy("tm_create", "desc")
        .limit(1)
        .executeTakeFirst();
      return r?.tm_create;
    },
    getLiveByDirectHash: (hash) =>
      one(view().where("extensions.direct_hash", "=", hash).where("extensions.tm_delete", "is", null)),
    getLiveByName: (customerId, extension) =>
      db
        .executeQuery<ExtensionView>(
          CompiledQuery.raw(
            byName.sql,
            byName.parameters.map((p) =>
              p === CUSTOMER_SLOT ? customerId : p === NAME_SLOT ? extension : p,
            ),
          ),
        )
        .then((r) => r.rows[0]),
  };
}

function tenantStore(db: Kysely<Database>): TenantStore {
  return {
    createTenant: (customer, domain, admin) =>
      guardUnique(
        db.transaction().execute(async (tx) => {
          await tx.insertInto("customers").values(customer).execute();
          await tx.insertInto("domains").values(domain).execute();
          if (admin) await tx.insertInto("users").values(admin).execute();
        }),
      ),
  };
}

export function sqlStores(db: Kysely<Database>): Stores {
  return {
    customers: customerStore(db),
    domains: domainStore(db),
    users: userStore(db),
    accessKeys: accessKeyStore(db),
    extensions: extensionStore(db),
    tenants: tenantStore(db),
    bindings: sqlBindingStore(db),
  };
}
