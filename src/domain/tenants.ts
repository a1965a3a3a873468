// Customers (tenants), their one SIP domain, and their users.
import { randomUUID } from "node:crypto";
import type { CustomerRow, DomainRow, Stores, UserRow } from "../store/ports.js";
import { UniqueViolationError } from "../store/ports.js";
import { apiTime, type Clock, formatMicros } from "../util/time.js";
import { DomainError, invalidArgument, notFound } from "./errors.js";
import { requireUuid } from "./ids.js";
import { type Page, parsePage, toPage } from "./paging.js";
import { isRole, type Principal, type Role, requireRole } from "./principal.js";
import { hashPassword, randomSecret } from "./secrets.js";

export interface Customer {
  id: string;
  name: string;
  detail: string;
  email: string;
  billing_account_id: string;
  status: string;
  tm_create: string;
  tm_update: string;
  tm_delete: string;
}

export interface Domain {
  id: string;
  customer_id: string;
  name: string;
  detail: string;
  domain_name: string;
  tm_create: string;
  tm_update: string;
  tm_delete: string;
}

export interface User {
  id: string;
  customer_id: string;
  username: string;
  name: string;
  detail: string;
  role: Role;
  tm_create: string;
  tm_update: string;
  tm_delete: string;
}

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

export const customerView = (r: CustomerRow): Customer => ({
  id: r.id,
  name: r.name,
  detail: r.detail,
  email: r.email,
  billing_account_id: r.billing_account_id,
  status: r.status,
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
  c: { id: string; name: string; detail: string; email: string },
  registrarDomain: string,
  now: string,
): { customer: CustomerRow; domain: DomainRow } {
  const customer: CustomerRow = {
    ...c,
    billing_account_id: "",
    status: "active",
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
    if (u.password.length < 8 || u.password.length > 256) {
      throw invalidArgument("password", "must be 8 to 256 characters");
    }
    if (!isRole(u.role)) throw invalidArgument("role", "must be admin, manager or agent");
    return {
      id: randomUUID(),
      customer_id: customerId,
      username: u.username,
      password_hash: await hashPassword(u.password),
      role: u.role,
      name: u.name ?? "",
      detail: u.detail ?? "",
      tm_create: formatMicros(clock()),
      tm_update: null,
      tm_delete: null,
    };
  }

  const usernameTaken = (username: string) =>
    new DomainError("ALREADY_EXISTS", "USER_ALREADY_EXISTS", `username: "${username}" is already taken`);

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

    async isEmpty(): Promise<boolean> {
      return (await stores.customers.count()) === 0;
    },

    async customer(p: Principal): Promise<Customer> {
      const row = await stores.customers.get(p.customerId);
      if (!row) throw notFound("customer");
      return customerView(row);
    },

    async listDomains(p: Principal, q: { page_size?: string; page_token?: string }): Promise<Page<Domain>> {
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
