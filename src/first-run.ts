// The first start on an empty database (CONTRACT §4): one customer, its domain and an admin,
// whose login the server prints once.
import type { Config } from "./config.js";
import type { Core } from "./main.js";

export interface FirstRun {
  username: string;
  password: string;
  /** the password is the operator's own (SIPEXT_ADMIN_PASSWORD), so it is not printed */
  passwordFromEnvironment: boolean;
  customerId: string;
  domainName: string;
}

/** On an empty database: one customer, its domain and an admin. Undefined on every later start. */
export async function bootstrap(core: Core, config: Config): Promise<FirstRun | undefined> {
  if (!(await core.services.tenants.isEmpty())) return undefined;
  try {
    const t = await core.services.tenants.createTenant({
      name: "default",
      detail: "created on first start",
      admin: { username: config.adminUsername, password: config.adminPassword },
    });
    if (!t.admin) return undefined;
    return {
      username: t.admin.user.username,
      password: t.admin.password,
      passwordFromEnvironment: config.adminPassword !== undefined,
      customerId: t.customer.id,
      domainName: t.domain.domain_name,
    };
  } catch (err) {
    // Another node sharing the database bootstrapped at the same moment: it printed the login.
    if (!(await core.services.tenants.isEmpty())) return undefined;
    throw err;
  }
}
