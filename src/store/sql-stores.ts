// Kysely implementations of the store ports; the same SQL runs on SQLite and PostgreSQL.

import { CompiledQuery, type Kysely } from "kysely";
import { type AuditDraft, sqlAuditStore } from "./audit.js";
import { uniqueViolation } from "./db.js";
import { type EventDraft, type EventNotifier, sqlEventStore } from "./events.js";
import { newestTmCreate } from "./newest.js";
import { type Outbox, outboxOf } from "./outbox.js";
import {
  type AccessKeyStore,
  type CustomerStore,
  type DomainStore,
  type ExtensionStore,
  type ExtensionView,
  type PageQuery,
  type Patch,
  type Stores,
  type TenantStore,
  UniqueViolationError,
  type UserStore,
} from "./ports.js";
import { sqlProvisioningStore } from "./provisioning.js";
import type { Database } from "./schema.js";
import { sqlCallStore } from "./sql-calls.js";
import { sqlSipBanStore } from "./sql-sip-bans.js";

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

/** Tables whose rows belong to one customer, are soft-deleted and are listed newest first. */
type OwnedTable = "domains" | "access_keys" | "extensions";

/**
 * The queries the customer-owned tables share. Kysely cannot follow a table named by a type
 * parameter through its column types, so they are written against `domains`, whose columns used
 * here (id, customer_id, tm_create, tm_update, tm_delete) every owned table has, and typed back
 * to the table's own row.
 */
function ownedRows<T extends OwnedTable>(db: Kysely<Database>, name: T, outbox: Outbox) {
  type Row = Database[T];
  const table = name as OwnedTable as "domains";
  return {
    get: (customerId: string, id: string) =>
      db
        .selectFrom(table)
        .selectAll()
        .where("id", "=", id)
        .where("customer_id", "=", customerId)
        .executeTakeFirst() as Promise<Row | undefined>,
    /** Live rows with tm_create before `page.before`, newest first. */
    list(customerId: string, page: PageQuery) {
      let q = db
        .selectFrom(table)
        .selectAll()
        .where("customer_id", "=", customerId)
        .where("tm_delete", "is", null);
      if (page.before !== undefined) q = q.where("tm_create", "<", page.before);
      return q.orderBy("tm_create", "desc").orderBy("id", "desc").limit(page.limit).execute() as Promise<
        Row[]
      >;
    },
    /** Updates a live row; false when it is missing or deleted. With `event`, in one transaction. */
    update(customerId: string, id: string, patch: Patch<Row>, event?: EventDraft, audit?: AuditDraft) {
      return outbox.write(
        customerId,
        event,
        async (q) => {
          const r = await guardUnique(
            q
              .updateTable(table)
              .set(patch)
              .where("id", "=", id)
              .where("customer_id", "=", customerId)
              .where("tm_delete", "is", null)
              .executeTakeFirst(),
          );
          return Number(r.numUpdatedRows) > 0;
        },
        audit,
      );
    },
    latestTmCreate: (customerId: string) => newestTmCreate(db, name, customerId),
  };
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
    list(page) {
      let q = db.selectFrom("customers").selectAll().where("tm_delete", "is", null);
      if (page.before !== undefined) q = q.where("tm_create", "<", page.before);
      return q.orderBy("tm_create", "desc").orderBy("id", "desc").limit(page.limit).execute();
    },
  };
}

function domainStore(db: Kysely<Database>, outbox: Outbox): DomainStore {
  const owned = ownedRows(db, "domains", outbox);
  return {
    get: owned.get,
    getByName: (domainName) =>
      db.selectFrom("domains").selectAll().where("domain_name", "=", domainName).executeTakeFirst(),
    listByCustomer: owned.list,
  };
}

function userStore(db: Kysely<Database>, outbox: Outbox): UserStore {
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
    listByCustomer(customerId, page) {
      let q = db
        .selectFrom("users")
        .selectAll()
        .where("customer_id", "=", customerId)
        .where("tm_delete", "is", null);
      if (page.before !== undefined) q = q.where("tm_create", "<", page.before);
      return q.orderBy("tm_create", "desc").orderBy("id", "desc").limit(page.limit).execute();
    },
    updateRevokingTokens(id, patch, audit) {
      return outbox.write(
        audit?.customerId ?? "",
        undefined,
        async (q) => {
          const r = await q
            .updateTable("users")
            .set((eb) => ({ ...patch, token_version: eb("token_version", "+", 1) }))
            .where("id", "=", id)
            .where("tm_delete", "is", null)
            .executeTakeFirst();
          return Number(r.numUpdatedRows) > 0;
        },
        audit?.draft,
      );
    },
  };
}

function accessKeyStore(db: Kysely<Database>, outbox: Outbox): AccessKeyStore {
  // tm_create is unique per customer here (the migration's index), so the list's order is total.
  const { get, list, update, latestTmCreate } = ownedRows(db, "access_keys", outbox);
  return {
    insert: async (row, _event, audit) => {
      await outbox.write(
        row.customer_id,
        undefined,
        async (q) => {
          await guardUnique(q.insertInto("access_keys").values(row).execute());
          return true;
        },
        audit,
      );
    },
    get,
    getByTokenHash: (tokenHash) =>
      db.selectFrom("access_keys").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst(),
    list,
    update,
    latestTmCreate,
  };
}

/** Slots in a query compiled once, replaced by the real values at each execution. */
const ID_SLOT = "\u0000id";
const CUSTOMER_SLOT = "\u0000customer_id";
const NAME_SLOT = "\u0000extension";

function extensionStore(db: Kysely<Database>, outbox: Outbox): ExtensionStore {
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
  const { update, latestTmCreate } = ownedRows(db, "extensions", outbox);
  return {
    insert: (row, event, audit) =>
      outbox.write(
        row.customer_id,
        event?.(row),
        async (q) => {
          await guardUnique(q.insertInto("extensions").values(row).execute());
          return true;
        },
        audit && { ...audit, targetId: row.id, extensionId: row.id, tmCreate: row.tm_create },
      ),
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
    async listIds(customerId, page: PageQuery) {
      let q = db
        .selectFrom("extensions")
        .select("id")
        .where("customer_id", "=", customerId)
        .where("tm_delete", "is", null);
      if (page.before !== undefined) q = q.where("tm_create", "<", page.before);
      const rows = await q.orderBy("tm_create", "desc").limit(page.limit).execute();
      return rows.map((r) => r.id);
    },
    getMany: (customerId, ids) =>
      ids.length === 0
        ? Promise.resolve([])
        : view()
            .where("extensions.customer_id", "=", customerId)
            .where("extensions.id", "in", [...ids])
            .execute(),
    update,
    latestTmCreate,
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

export interface StoreOptions {
  /** told after each commit that appended events (this node's SSE streams and webhook worker) */
  notifier?: EventNotifier;
  /** false: no events are written (SIPEXT_EVENTS=false) */
  events?: boolean;
}

export function sqlStores(db: Kysely<Database>, o: StoreOptions = {}): Stores {
  const outbox = outboxOf(db, o);
  return {
    customers: customerStore(db),
    domains: domainStore(db, outbox),
    users: userStore(db, outbox),
    accessKeys: accessKeyStore(db, outbox),
    extensions: extensionStore(db, outbox),
    tenants: tenantStore(db),
    sipBans: sqlSipBanStore(db, outbox),
    events: sqlEventStore(db),
    calls: sqlCallStore(db, outbox),
    audit: sqlAuditStore(db),
    provisioning: sqlProvisioningStore(db, outbox),
    outbox,
  };
}
