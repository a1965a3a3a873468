// The persistence interfaces the domain depends on. Rows are as stored; policy (validation,
// retries, who may see what) lives in the domain services, not here.
import type {
  AccessKeysTable,
  BindingsTable,
  CustomersTable,
  DomainsTable,
  ExtensionsTable,
  UsersTable,
} from "./schema.js";

export type CustomerRow = CustomersTable;
export type DomainRow = DomainsTable;
export type UserRow = UsersTable;
export type AccessKeyRow = AccessKeysTable;
export type ExtensionRow = ExtensionsTable;
export type BindingRow = BindingsTable;
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
}

export interface DomainStore {
  get(customerId: string, id: string): Promise<DomainRow | undefined>;
  getByName(domainName: string): Promise<DomainRow | undefined>;
  listByCustomer(customerId: string, page: PageQuery): Promise<DomainRow[]>;
}

export interface UserStore {
  insert(row: UserRow): Promise<void>;
  get(id: string): Promise<UserRow | undefined>;
  getByUsername(username: string): Promise<UserRow | undefined>;
}

export interface AccessKeyStore {
  insert(row: AccessKeyRow): Promise<void>;
  get(customerId: string, id: string): Promise<AccessKeyRow | undefined>;
  getByTokenHash(tokenHash: string): Promise<AccessKeyRow | undefined>;
  list(customerId: string, page: PageQuery): Promise<AccessKeyRow[]>;
  update(customerId: string, id: string, patch: Patch<AccessKeyRow>): Promise<boolean>;
  latestTmCreate(customerId: string): Promise<string | undefined>;
}

export interface ExtensionStore {
  insert(row: ExtensionRow): Promise<void>;
  get(customerId: string, id: string): Promise<ExtensionView | undefined>;
  list(customerId: string, page: PageQuery): Promise<ExtensionView[]>;
  /** Updates a live extension; false when it is missing or deleted. */
  update(customerId: string, id: string, patch: Patch<ExtensionRow>): Promise<boolean>;
  latestTmCreate(customerId: string): Promise<string | undefined>;
  getLiveByDirectHash(hash: string): Promise<ExtensionView | undefined>;
  getLiveByName(customerId: string, extension: string): Promise<ExtensionView | undefined>;
}

/** One write of the location service, applied in order. */
export type BindingWrite =
  | { op: "upsert"; row: BindingRow }
  | { op: "delete"; extensionId: string; contact: string }
  | { op: "delete-all"; extensionId: string };

export interface BindingStore {
  /** Every binding whose tm_expire is after `now` (at start-up). */
  loadLive(now: string): Promise<BindingRow[]>;
  /** Applies writes in one transaction, in order. */
  apply(writes: BindingWrite[]): Promise<void>;
  /** Deletes bindings that expired before `now`; returns how many. */
  deleteExpired(now: string): Promise<number>;
}

/** Creating a tenant writes three rows at once: all or nothing. */
export interface TenantStore {
  createTenant(customer: CustomerRow, domain: DomainRow, admin: UserRow | undefined): Promise<void>;
}

export interface Stores {
  customers: CustomerStore;
  domains: DomainStore;
  users: UserStore;
  accessKeys: AccessKeyStore;
  extensions: ExtensionStore;
  tenants: TenantStore;
  bindings: BindingStore;
}
