// The persistence interfaces the domain depends on. Rows are as stored; policy (validation,
// retries, who may see what) lives in the domain services, not here.
import type { Insertable, Selectable } from "kysely";
import type { AuditDraft, AuditStore } from "./audit.js";
import type { EventDraft, EventStore } from "./events.js";
import type { Outbox } from "./outbox.js";
import type { ProvisioningStore } from "./provisioning.js";
import type {
  AccessKeysTable,
  CustomersTable,
  DomainsTable,
  ExtensionsTable,
  SipBansTable,
  UsersTable,
} from "./schema.js";
import type { CallStore } from "./sql-calls.js";

export type CustomerRow = Selectable<CustomersTable>;
/** A new customer: the outbox counter and webhook columns take their defaults. */
export type NewCustomerRow = Insertable<CustomersTable>;
export type DomainRow = DomainsTable;
export type UserRow = UsersTable;
export type AccessKeyRow = AccessKeysTable;
export type ExtensionRow = ExtensionsTable;
export type SipBanRow = SipBansTable;
/** An extension with the name of its domain, as the API shows it. */
export type ExtensionView = ExtensionRow & { domain_name: string };

/** Keyset page: items with tm_create strictly before `before` (newest first), at most `limit`. */
export interface PageQuery {
  limit: number;
  before?: string | undefined;
}

/** A write collided with a unique rule; `field` says which. */
export class UniqueViolationError extends Error {
  constructor(readonly field: string) {
    super(`unique violation on ${field}`);
    this.name = "UniqueViolationError";
  }
}

export type Patch<T> = Partial<T> & { tm_update: string };

export interface CustomerStore {
  count(): Promise<number>;
  get(id: string): Promise<CustomerRow | undefined>;
  /** Live customers with tm_create before `page.before`, newest first (`sipext customers list`). */
  list(page: PageQuery): Promise<CustomerRow[]>;
}

export interface DomainStore {
  get(customerId: string, id: string): Promise<DomainRow | undefined>;
  getByName(domainName: string): Promise<DomainRow | undefined>;
  listByCustomer(customerId: string, page: PageQuery): Promise<DomainRow[]>;
}

export interface UserStore {
  insert(row: UserRow): Promise<void>;
  get(id: string): Promise<UserRow | undefined>;
  /** The live user with this username. */
  getByUsername(username: string): Promise<UserRow | undefined>;
  /** A customer's live users, newest first (`sipext users list`). */
  listByCustomer(customerId: string, page: PageQuery): Promise<UserRow[]>;
  /**
   * Updates a live user and increments its token_version, which ends every login token issued
   * before; false when it is missing or deleted.
   */
  updateRevokingTokens(
    id: string,
    patch: Patch<UserRow>,
    audit?: { customerId: string; draft: AuditDraft },
  ): Promise<boolean>;
}

export interface AccessKeyStore {
  /** Inserts; with `audit`, its record in the same transaction (no event: keys have none). */
  insert(row: AccessKeyRow, event?: undefined, audit?: AuditDraft): Promise<void>;
  get(customerId: string, id: string): Promise<AccessKeyRow | undefined>;
  getByTokenHash(tokenHash: string): Promise<AccessKeyRow | undefined>;
  list(customerId: string, page: PageQuery): Promise<AccessKeyRow[]>;
  update(
    customerId: string,
    id: string,
    patch: Patch<AccessKeyRow>,
    event?: undefined,
    audit?: AuditDraft,
  ): Promise<boolean>;
  latestTmCreate(customerId: string): Promise<string | undefined>;
}

export interface ExtensionStore {
  /** Inserts; with `event`, the event of the row as inserted goes in the same transaction. */
  insert(row: ExtensionRow, event?: (row: ExtensionRow) => EventDraft, audit?: AuditDraft): Promise<unknown>;
  get(customerId: string, id: string): Promise<ExtensionView | undefined>;
  list(customerId: string, page: PageQuery): Promise<ExtensionView[]>;
  /** The ids of the page `list` would return, in its order (a page of cached rows, extension-cache.ts). */
  listIds(customerId: string, page: PageQuery): Promise<string[]>;
  /** These extensions of the customer (deleted ones too), in no particular order. */
  getMany(customerId: string, ids: readonly string[]): Promise<ExtensionView[]>;
  /** Updates a live extension; false when it is missing or deleted. With `event`, atomically. */
  update(
    customerId: string,
    id: string,
    patch: Patch<ExtensionRow>,
    event?: EventDraft,
    audit?: AuditDraft,
  ): Promise<boolean>;
  latestTmCreate(customerId: string): Promise<string | undefined>;
  getLiveByDirectHash(hash: string): Promise<ExtensionView | undefined>;
  getLiveByName(customerId: string, extension: string): Promise<ExtensionView | undefined>;
}

export interface SipBanStore {
  insert(row: SipBanRow, event?: EventDraft): Promise<void>;
  /** The customer's bans in force at `now`, newest first. */
  listActive(customerId: string, now: string): Promise<SipBanRow[]>;
  get(customerId: string, id: string): Promise<SipBanRow | undefined>;
  /** Every ban in force at `now` (at start-up). */
  loadActive(now: string): Promise<SipBanRow[]>;
  delete(row: SipBanRow, event?: EventDraft, audit?: AuditDraft): Promise<void>;
  deleteExpired(now: string): Promise<number>;
}

/** Creating a tenant writes three rows at once: all or nothing. */
export interface TenantStore {
  createTenant(customer: NewCustomerRow, domain: DomainRow, admin: UserRow | undefined): Promise<void>;
}

export interface Stores {
  customers: CustomerStore;
  domains: DomainStore;
  users: UserStore;
  accessKeys: AccessKeyStore;
  extensions: ExtensionStore;
  tenants: TenantStore;
  sipBans: SipBanStore;
  events: EventStore;
  calls: CallStore;
  audit: AuditStore;
  provisioning: ProvisioningStore;
  /** writes of other modules that tell of themselves (the location store, call records) */
  outbox: Outbox;
}
