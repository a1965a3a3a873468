// `sipext extensions …` (CONTRACT §6, §16): the API's extension calls for one customer, plus
// import and export (extension-files.ts).
import { type Command, Option } from "commander";
import type { Extension } from "../contract/extension.js";
import { customerAdmin, type PageOptions, pageQuery, withCore } from "./context.js";
import { exportExtensions, importExtensions } from "./extension-files.js";
import { type Columns, fields, type OutputOptions, printList, printOne } from "./output.js";

export const EXTENSION_COLUMNS: Columns<Extension> = {
  ...fields<Extension>("id", "extension", "name", "direct_hash"),
  password: (e) => e.password,
  tm_create: (e) => e.tm_create,
};

interface Customer extends OutputOptions {
  customerId: string;
}
interface Texts extends Customer {
  name?: string;
  detail?: string;
  password?: string;
}

const opts = <T extends object>(cmd: Command) => cmd.optsWithGlobals<T & Record<string, unknown>>() as T;

export function extensionCommands(program: Command): void {
  const ext = program.command("extensions").description("manage a customer's extensions (SIP accounts)");
  const inCustomer = (c: Command) => c.requiredOption("--customer-id <id>", "the customer");

  inCustomer(ext.command("list").description("list extensions, newest first"))
    .option("--page-size <n>", "1-100 (default 100)")
    .option("--page-token <token>", "the previous page's next_page_token")
    .action((_o, cmd: Command) =>
      withCore(async (core) => {
        const o = opts<Customer & PageOptions>(cmd);
        const p = await customerAdmin(core, o.customerId);
        printList(o, await core.services.extensions.list(p, pageQuery(o)), EXTENSION_COLUMNS);
      }),
    );

  inCustomer(ext.command("get").description("show one extension"))
    .argument("<id>", "extension id")
    .action((id: string, _o, cmd: Command) =>
      withCore(async (core) => {
        const o = opts<Customer>(cmd);
        printOne(o, await core.services.extensions.get(await customerAdmin(core, o.customerId), id));
      }),
    );

  inCustomer(ext.command("create").description("create an extension; a generated password is shown once"))
    .requiredOption("--extension <ext>", "the extension (SIP username)")
    .option("--password <password>", "SIP password (generated when omitted)")
    .option("--name <name>", "name")
    .option("--detail <detail>", "free text")
    .action((_o, cmd: Command) =>
      withCore(async (core) => {
        const o = opts<Texts & { extension: string }>(cmd);
        const p = await customerAdmin(core, o.customerId);
        const body = { extension: o.extension, password: o.password, name: o.name, detail: o.detail };
        printOne(o, await core.services.extensions.create(p, body));
      }),
    );

  inCustomer(ext.command("update").description("change an extension's name, detail or password"))
    .argument("<id>", "extension id")
    .option("--password <password>", "new SIP password")
    .option("--name <name>", "name")
    .option("--detail <detail>", "free text")
    .action((id: string, _o, cmd: Command) =>
      withCore(async (core) => {
        const o = opts<Texts>(cmd);
        const p = await customerAdmin(core, o.customerId);
        const body = { password: o.password, name: o.name, detail: o.detail };
        printOne(o, await core.services.extensions.update(p, id, body));
      }),
    );

  inCustomer(ext.command("delete").description("delete an extension; its registrations end"))
    .argument("<id>", "extension id")
    .action((id: string, _o, cmd: Command) =>
      withCore(
        async (core) => {
          const o = opts<Customer>(cmd);
          await core.location.load();
          printOne(o, await core.services.extensions.remove(await customerAdmin(core, o.customerId), id));
        },
        { bus: true },
      ),
    );

  inCustomer(ext.command("regenerate").description("give an extension a new direct hash (direct URI)"))
    .argument("<id>", "extension id")
    .action((id: string, _o, cmd: Command) =>
      withCore(async (core) => {
        const o = opts<Customer>(cmd);
        const p = await customerAdmin(core, o.customerId);
        printOne(o, await core.services.extensions.regenerateDirectHash(p, id));
      }),
    );

  inCustomer(ext.command("import").description("create extensions from a CSV or JSON file"))
    .argument("<file>", "file.csv (header extension,password,name,detail) or file.json (array)")
    .option("--dry-run", "only validate; write nothing")
    .action((file: string, _o, cmd: Command) =>
      withCore(async (core) => {
        const o = opts<Customer & { dryRun?: boolean }>(cmd);
        await importExtensions(core, await customerAdmin(core, o.customerId), file, o);
      }),
    );

  inCustomer(ext.command("export").description("write every extension as CSV (or JSON) to stdout"))
    .addOption(new Option("--format <format>", "file format").choices(["csv", "json"]).default("csv"))
    .action((_o, cmd: Command) =>
      withCore(async (core) => {
        const o = opts<Customer & { format: string }>(cmd);
        await exportExtensions(core, await customerAdmin(core, o.customerId), o.format);
      }),
    );
}
