// The `sipext` command: run the server, or make tenants, users and access keys without SQL.
import { Command, InvalidArgumentError } from "commander";
import { type Config, ConfigError, loadConfig } from "../config.js";
import { DomainError } from "../domain/errors.js";
import { createLogger } from "../logger.js";
import { type FirstRun, openCore, startServer } from "../main.js";

function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sipext: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

function printFirstRun(f: FirstRun): void {
  // Printed once, on the start that created them; never written to the log.
  process.stdout.write(
    [
      "",
      "sipext first run: created the first customer and its admin (shown only this once)",
      `  username:     ${f.username}`,
      `  password:     ${f.password}`,
      `  customer id:  ${f.customerId}`,
      `  SIP domain:   ${f.domainName}`,
      "",
    ].join("\n"),
  );
}

async function serve(): Promise<void> {
  const cfg = config();
  const logger = createLogger(cfg.logLevel);
  const server = await startServer(cfg, logger);
  if (server.firstRun) printFirstRun(server.firstRun);
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await server.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** Runs one command against the configured database and prints its JSON result. */
async function withCore(
  work: (core: Awaited<ReturnType<typeof openCore>>) => Promise<unknown>,
): Promise<void> {
  const core = await openCore(config());
  try {
    process.stdout.write(`${JSON.stringify(await work(core), null, 2)}\n`);
  } catch (err) {
    if (err instanceof DomainError) {
      process.stderr.write(`sipext: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  } finally {
    await core.close();
  }
}

const seconds = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("must be a whole number of seconds");
  return Number(v);
};

const program = new Command("sipext").description("multi-tenant SIP extension platform");

program
  .command("serve", { isDefault: true })
  .description("serve the REST API (configuration from SIPEXT_* variables)")
  .action(serve);

const customers = program.command("customers").description("manage customers (tenants)");
customers
  .command("create")
  .description("create a customer, its SIP domain and optionally its first admin user")
  .requiredOption("--name <name>", "customer name")
  .option("--email <email>", "contact email", "")
  .option("--detail <detail>", "free text", "")
  .option("--admin-username <username>", "also create an admin user with this username")
  .option("--admin-password <password>", "its password (generated and printed when omitted)")
  .action(
    (o: { name: string; email: string; detail: string; adminUsername?: string; adminPassword?: string }) =>
      withCore(async ({ services }) => {
        const t = await services.tenants.createTenant({
          name: o.name,
          email: o.email,
          detail: o.detail,
          ...(o.adminUsername ? { admin: { username: o.adminUsername, password: o.adminPassword } } : {}),
        });
        return { customer: t.customer, domain: t.domain, admin: t.admin };
      }),
  );

program
  .command("users")
  .description("manage users")
  .command("create")
  .description("create a user in a customer")
  .requiredOption("--customer-id <id>", "the customer")
  .requiredOption("--username <username>", "login name (unique)")
  .requiredOption("--password <password>", "login password (8-256 characters)")
  .option("--role <role>", "admin, manager or agent", "admin")
  .action((o: { customerId: string; username: string; password: string; role: string }) =>
    withCore(({ services }) =>
      services.tenants.createUser(o.customerId, { username: o.username, password: o.password, role: o.role }),
    ),
  );

program
  .command("accesskeys")
  .description("manage access keys")
  .command("create")
  .description("create an access key for a customer; prints its token once")
  .requiredOption("--customer-id <id>", "the customer")
  .option("--name <name>", "name", "")
  .option("--detail <detail>", "free text", "")
  .option("--expire <seconds>", "lifetime in seconds (default one year)", seconds)
  .action((o: { customerId: string; name: string; detail: string; expire?: number }) =>
    withCore(async ({ services, stores }) => {
      if (!(await stores.customers.get(o.customerId)))
        throw new DomainError("NOT_FOUND", "CUSTOMER_NOT_FOUND", `customer ${o.customerId} not found`);
      return services.accessKeys.create(
        { customerId: o.customerId },
        { name: o.name, detail: o.detail, expire: o.expire },
      );
    }),
  );

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`sipext: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
