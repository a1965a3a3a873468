// Customers (tenants), their one SIP domain, and their users.
import { randomUUID } from "node:crypto";
import type { Page, PageQuery } from "../contract/common.js";
import type { Customer } from "../contract/customer.js";
import type { Domain } from "../contract/domain.js";
import type { User } from "../contract/user.js";
import type { CustomerRow, DomainRow, NewCustomerRow, Stores, UserRow } from "../store/ports.js";
import { UniqueViolationError } from "../store/ports.js";
import { apiTime, type Clock, formatMicros } from "../util/time.js";
import { cliAudit } from "./audit.js";
import { DomainError, invalidArgument, notFound } from "./errors.js";
import { requireUuid } from "./ids.js";
import { parsePage, toPage } from "./paging.js";
import { isRole, type Principal, requireRole } from "./principal.js";
import { hashPassword, randomSecret } from "./secrets.js";

export interface NewTenant {
  name: string;
  detail?: string;
  email?: string;
  admin?: { username: string; password?: string | undefined };
}

export interface NewUser {
  username: string;
  password: string;
  role: string;
  name?: string;
  detail?: string;
}

export interface TenantServiceDeps {
  stores: Stores;
  clock: Clock;
  registrarDomain: string;
}

const USERNAME_RE = /^[A-Za-z0-9._@+-]{1,64}$/;

function checkPassword(password: string): void {
  if (password.length < 8 || password.length > 256) {
    throw invalidArgument("password", "must be 8 to 256 characters");
  }
}

function checkRole(role: string): void {
  if (!isRole(role)) throw invalidArgument("role", "must be admin, manager or agent");
}

/** What a customer's view is made of (a new row leaves the outbox and delivery columns to their defaults). */
type CustomerFields = Pick<
  CustomerRow,
  | "id"
  | "name"
  | "detail"
  | "email"
  | "billing_account_id"
  | "status"
  | "webhook_method"
  | "webhook_uri"
  | "tm_create"
  | "tm_update"
  | "tm_delete"
>;

export const customerView = (r: CustomerFields): Customer => ({
  id: r.id,
  name: r.name,
  detail: r.detail,
  email: r.email,
  billing_account_id: r.billing_account_id,
  status: r.status,
  webhook_method: r.webhook_method,
  webhook_uri: r.webhook_uri,
  tm_create: r.tm_create,
  tm_update: apiTime(r.tm_update),
  tm_delete: apiTime(r.tm_delete),
});

export const domainView = (r: DomainRow): Domain => ({
  id: r.id,
  customer_id: r.customer_id,
  name: r.name,
  detail: r.detail,
  domain_name: r.domain_name,
  tm_create: r.tm_create,
  tm_update: apiTime(r.tm_update),
  tm_delete: apiTime(r.tm_delete),
});

export const userView = (r: UserRow): User => ({
  id: r.id,
  customer_id: r.customer_id,
  username: r.username,
  name: r.name,
  detail: r.detail,
  role: isRole(r.role) ? r.role : "agent",
  tm_create: r.tm_create,
  tm_update: apiTime(r.tm_update),
  tm_delete: apiTime(r.tm_delete),
});

/** The rows of a new customer and its SIP domain `<id>.<registrar domain>`, created at `now`. */
export function tenantRows(
  c: Pick<CustomerRow, "id" | "name" | "detail" | "email">,
  registrarDomain: string,
  now: string,
): { customer: NewCustomerRow & CustomerFields; domain: DomainRow } {
  const customer: NewCustomerRow & CustomerFields = {
    ...c,
    billing_account_id: "",
    status: "active",
    webhook_method: "",
    webhook_uri: "",
    tm_create: now,
    tm_update: null,
    tm_delete: null,
  };
  const domain: DomainRow = {
    id: randomUUID(),
    customer_id: c.id,
    name: `${c.name} SIP domain`,
    detail: "",
    domain_name: `${c.id}.${registrarDomain}`,
    tm_create: now,
    tm_update: null,
    tm_delete: null,
  };
  return { customer, domain };
}

export function tenantService({ stores, clock, registrarDomain }: TenantServiceDeps) {
  async function userRow(customerId: string, u: NewUser): Promise<UserRow> {
    if (!USERNAME_RE.test(u.username)) {
      throw invalidArgument("username", "must be 1-64 characters from A-Z a-z 0-9 . _ @ + -");
    }
    checkPassword(u.password);
    checkRole(u.role);
    return {
      id: randomUUID(),
      customer_id: customerId,
      username: u.username,
      password_hash: await hashPassword(u.password),
      role: u.role,
      token_version: 0,
      name: u.name ?? "",
      detail: u.detail ?? "",
      tm_create: formatMicros(clock()),
      tm_update: null,
      tm_delete: null,
    };
  }

  const usernameTaken = (username: string) =>
    new DomainError("ALREADY_EXISTS", "USER_ALREADY_EXISTS", `username: "${username}" is already taken`);

  async function liveUser(username: string): Promise<UserRow> {
    const row = USERNAME_RE.test(username) ? await stores.users.getByUsername(username) : undefined;
    if (!row) throw new DomainError("NOT_FOUND", "USER_NOT_FOUND", `username: no user "${username}"`);
    return row;
  }

  /** Writes a change to a user and ends every login token it holds (CONTRACT §14). */
  async function revise(
    row: UserRow,
    changes: Partial<UserRow>,
    now = formatMicros(clock()),
    action?: string,
  ): Promise<User> {
    const patch = { ...changes, tm_update: now };
    // These run from the `sipext` command only: its actor is `cli` (CONTRACT §17).
    const audit = action
      ? { customerId: row.customer_id, draft: cliAudit(action, row.id, ["password"], now) }
      : undefined;
    if (!(await stores.users.updateRevokingTokens(row.id, patch, audit))) {
      throw new DomainError("NOT_FOUND", "USER_NOT_FOUND", `username: no user "${row.username}"`);
    }
    return userView({ ...row, ...patch });
  }

  /** A new password; the user's login tokens stop working at once. */
  async function setPassword(username: string, password: string): Promise<User> {
    checkPassword(password);
    const row = await liveUser(username);
    return revise(row, { password_hash: await hashPassword(password) }, undefined, "user_password_reset");
  }

  return {
    /** A customer, its SIP domain `<id>.<registrar domain>` and optionally its first admin. */
    async createTenant(t: NewTenant) {
      const { customer, domain } = tenantRows(
        { id: randomUUID(), name: t.name, detail: t.detail ?? "", email: t.email ?? "" },
        registrarDomain,
        formatMicros(clock()),
      );
      const password = t.admin ? (t.admin.password ?? randomSecret(18)) : undefined;
      const admin =
        t.admin && password !== undefined
          ? await userRow(customer.id, { username: t.admin.username, password, role: "admin", name: "admin" })
          : undefined;
      try {
        await stores.tenants.createTenant(customer, domain, admin);
      } catch (err) {
        if (err instanceof UniqueViolationError && err.field === "username" && t.admin) {
          throw usernameTaken(t.admin.username);
        }
        throw err;
      }
      return {
        customer: customerView(customer),
        domain: domainView(domain),
        admin: admin ? { user: userView(admin), password: password ?? "" } : undefined,
      };
    },

    async createUser(customerId: string, u: NewUser): Promise<User> {
      if (!(await stores.customers.get(customerId))) throw notFound("customer");
      const row = await userRow(customerId, u);
      try {
        await stores.users.insert(row);
      } catch (err) {
        if (err instanceof UniqueViolationError && err.field === "username") throw usernameTaken(u.username);
        throw err;
      }
      return userView(row);
    },

    /** Deletes a user (its username stays taken): its login tokens stop working at once. */
    async deleteUser(username: string): Promise<User> {
      const row = await liveUser(username);
      const now = formatMicros(clock());
      return revise(row, { tm_delete: now }, now);
    },

    setPassword,

    /** `sipext users reset-password`: a generated password, returned once, as setPassword. */
    async resetPassword(username: string): Promise<{ user: User; password: string }> {
      const password = randomSecret(18);
      return { user: await setPassword(username, password), password };
    },

    /** A new role; the user's login tokens (which carry the role) stop working at once. */
    async setRole(username: string, role: string): Promise<User> {
      checkRole(role);
      const row = await liveUser(username);
      if (row.role === role) return userView(row);
      return revise(row, { role });
    },

    /** Every live customer, newest first (`sipext customers list`; the API has no such call). */
    async listCustomers(q: PageQuery): Promise<Page<Customer>> {
      return toPage(await stores.customers.list(parsePage(q.page_size, q.page_token)), customerView);
    },

    /** A customer's live users, newest first (`sipext users list`). */
    async listUsers(customerId: string, q: PageQuery): Promise<Page<User>> {
      if (!(await stores.customers.get(customerId))) throw notFound("customer");
      return toPage(
        await stores.users.listByCustomer(customerId, parsePage(q.page_size, q.page_token)),
        userView,
      );
    },

    async isEmpty(): Promise<boolean> {
      return (await stores.customers.count()) === 0;
    },

    async customer(p: Principal): Promise<Customer> {
      const row = await stores.customers.get(p.customerId);
      if (!row) throw notFound("customer");
      return customerView(row);
    },

    async listDomains(p: Principal, q: PageQuery): Promise<Page<Domain>> {
      requireRole(p, ["admin", "manager"]);
      const page = parsePage(q.page_size, q.page_token);
      return toPage(await stores.domains.listByCustomer(p.customerId, page), domainView);
    },

    async getDomain(p: Principal, id: string): Promise<Domain> {
      requireRole(p, ["admin", "manager"]);
      const row = await stores.domains.get(p.customerId, requireUuid("id", id));
      if (!row) throw notFound("domain");
      return domainView(row);
    },
  };
}

export type TenantService = ReturnType<typeof tenantService>;
