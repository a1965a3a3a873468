// `sipext customers|users|accesskeys …`: tenants, their users and access keys (CONTRACT §4, §16).
import { type Command, InvalidArgumentError } from "commander";
import type { AccessKey } from "../contract/access-key.js";
import type { Customer } from "../contract/customer.js";
import type { User } from "../contract/user.js";
import type { Core } from "../main.js";
import { customerAdmin, type PageOptions, pageQuery, withCore } from "./context.js";
import { fields, type OutputOptions, printList, printOne } from "./output.js";

const seconds = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("must be a whole number of seconds");
  return Number(v);
};

type Services = Core["services"];
type ByName = OutputOptions & { username: string; role: string };
type InCustomer = OutputOptions & PageOptions & { customerId: string };
const paged = (c: Command) =>
  c
    .option("--page-size <n>", "1-100 (default 100)")
    .option("--page-token <token>", "the previous page's next_page_token");

export function customerCommands(program: Command): void {
  const customers = program.command("customers").description("manage customers (tenants)");
  customers
    .command("create")
    .description("create a customer, its SIP domain and optionally its first admin user")
    .requiredOption("--name <name>", "customer name")
    .option("--email <email>", "contact email", "")
    .option("--detail <detail>", "free text", "")
    .option("--admin-username <username>", "also create an admin user with this username")
    .option("--admin-password <password>", "its password (generated and printed when omitted)")
    .action((_o, cmd: Command) =>
      withCore(async ({ services }) => {
        const o = cmd.optsWithGlobals<
          OutputOptions & {
            name: string;
            email: string;
            detail: string;
            adminUsername?: string;
            adminPassword?: string;
          }
        >();
        const t = await services.tenants.createTenant({
          name: o.name,
          email: o.email,
          detail: o.detail,
          ...(o.adminUsername ? { admin: { username: o.adminUsername, password: o.adminPassword } } : {}),
        });
        printOne(o, { customer: t.customer, domain: t.domain, admin: t.admin });
      }),
    );
  paged(customers.command("list").description("list customers, newest first")).action((_o, cmd: Command) =>
    withCore(async ({ services }) => {
      const o = cmd.optsWithGlobals<OutputOptions & PageOptions>();
      printList(
        o,
        await services.tenants.listCustomers(pageQuery(o)),
        fields<Customer>("id", "name", "email", "tm_create"),
      );
    }),
  );
}

export function userCommands(program: Command): void {
  const users = program.command("users").description("manage users");
  users
    .command("create")
    .description("create a user in a customer")
    .requiredOption("--customer-id <id>", "the customer")
    .requiredOption("--username <username>", "login name (unique)")
    .requiredOption("--password <password>", "login password (8-256 characters)")
    .option("--role <role>", "admin, manager or agent", "admin")
    .action((_o, cmd: Command) =>
      withCore(async ({ services }) => {
        const o = cmd.optsWithGlobals<
          OutputOptions & { customerId: string; username: string; password: string; role: string }
        >();
        const user = { username: o.username, password: o.password, role: o.role };
        printOne(o, await services.tenants.createUser(o.customerId, user));
      }),
    );
  paged(users.command("list").description("list a customer's users, newest first"))
    .requiredOption("--customer-id <id>", "the customer")
    .action((_o, cmd: Command) =>
      withCore(async (core) => {
        const o = cmd.optsWithGlobals<InCustomer>();
        const p = await customerAdmin(core, o.customerId);
        printList(
          o,
          await core.services.tenants.listUsers(p.customerId, pageQuery(o)),
          fields<User>("id", "username", "role", "name", "tm_create"),
        );
      }),
    );
  // Each of these ends the user's login tokens at once (CONTRACT §14).
  const byName = (name: string, what: string, act: (s: Services, o: ByName) => Promise<object>) =>
    users
      .command(name)
      .description(what)
      .requiredOption("--username <username>", "the user")
      .action((_o, cmd: Command) =>
        withCore(async ({ services }) => {
          const o = cmd.optsWithGlobals<ByName>();
          printOne(o, await act(services, o));
        }),
      );
  byName(
    "reset-password",
    "give a user a new generated password, printed once; its login tokens stop working",
    (s, o) => s.tenants.resetPassword(o.username),
  );
  byName("set-role", "change a user's role; its login tokens stop working", (s, o) =>
    s.tenants.setRole(o.username, o.role),
  ).requiredOption("--role <role>", "admin, manager or agent");
  byName("delete", "delete a user; its login tokens stop working", (s, o) =>
    s.tenants.deleteUser(o.username),
  );
}

export function accessKeyCommands(program: Command): void {
  const keys = program.command("accesskeys").description("manage access keys");
  keys
    .command("create")
    .description("create an access key for a customer; prints its token once")
    .requiredOption("--customer-id <id>", "the customer")
    .option("--name <name>", "name", "")
    .option("--detail <detail>", "free text", "")
    .option("--expire <seconds>", "lifetime in seconds (default one year)", seconds)
    .action((_o, cmd: Command) =>
      withCore(async (core) => {
        const o = cmd.optsWithGlobals<InCustomer & { name: string; detail: string; expire?: number }>();
        const p = await customerAdmin(core, o.customerId);
        printOne(
          o,
          await core.services.accessKeys.create(p, { name: o.name, detail: o.detail, expire: o.expire }),
        );
      }),
    );
  paged(keys.command("list").description("list a customer's access keys (never their tokens)"))
    .requiredOption("--customer-id <id>", "the customer")
    .action((_o, cmd: Command) =>
      withCore(async (core) => {
        const o = cmd.optsWithGlobals<InCustomer>();
        const p = await customerAdmin(core, o.customerId);
        const columns = fields<AccessKey>("id", "name", "token_prefix", "tm_expire", "tm_delete");
        printList(o, await core.services.accessKeys.list(p, pageQuery(o)), columns);
      }),
    );
  keys
    .command("revoke")
    .description("revoke (delete) an access key: it stops working at once")
    .requiredOption("--customer-id <id>", "the customer")
    .argument("<id>", "access key id")
    .action((id: string, _o, cmd: Command) =>
      withCore(async (core) => {
        const o = cmd.optsWithGlobals<InCustomer>();
        printOne(o, await core.services.accessKeys.remove(await customerAdmin(core, o.customerId), id));
      }),
    );
}
