// `sipext contacts|sip-bans …`: the registrar's bindings of an extension and the SIP bans of a
// customer (CONTRACT §7, §14), through the same services as the API.
import type { Command } from "commander";
import type { Contact } from "../contract/contact.js";
import type { SipBan } from "../contract/sip-ban.js";
import { customerAdmin, withCore } from "./context.js";
import { fields, type OutputOptions, printList } from "./output.js";

type InCustomer = OutputOptions & { customerId: string };
const CONTACT_COLUMNS = fields<Contact>("uri", "source", "transport", "user_agent", "expires");

export function contactCommands(program: Command): void {
  const contacts = program.command("contacts").description("an extension's registered devices");
  contacts
    .command("list")
    .description("list the devices registered to an extension")
    .requiredOption("--customer-id <id>", "the customer")
    .argument("<extension-id>", "extension id")
    .action((id: string, _o, cmd: Command) =>
      withCore(async (core) => {
        const o = cmd.optsWithGlobals<InCustomer>();
        const p = await customerAdmin(core, o.customerId);
        // The bindings in the database, as every node writes them behind (CONTRACT §15).
        await core.location.load();
        printList(o, await core.services.contacts.list(p, id), CONTACT_COLUMNS);
      }),
    );
  contacts
    .command("unregister")
    .description("end every registration of an extension (its devices must register again)")
    .requiredOption("--customer-id <id>", "the customer")
    .argument("<extension-id>", "extension id")
    .action((id: string, _o, cmd: Command) =>
      withCore(
        async (core) => {
          const o = cmd.optsWithGlobals<InCustomer>();
          const p = await customerAdmin(core, o.customerId);
          await core.location.load();
          printList(o, await core.services.contacts.removeAll(p, id), CONTACT_COLUMNS);
        },
        { bus: true },
      ),
    );
}

export function sipBanCommands(program: Command): void {
  const bans = program.command("sip-bans").description("sources banned after failed SIP digest answers");
  bans
    .command("list")
    .description("list the bans in force against a customer's extensions")
    .requiredOption("--customer-id <id>", "the customer")
    .action((_o, cmd: Command) =>
      withCore(async (core) => {
        const o = cmd.optsWithGlobals<InCustomer>();
        const p = await customerAdmin(core, o.customerId);
        const columns = fields<SipBan>("id", "source", "extension_id", "failures", "tm_expire");
        printList(o, await core.services.sipBans.list(p), columns);
      }),
    );
  bans
    .command("lift")
    .description("lift a ban: the source may try again at once")
    .requiredOption("--customer-id <id>", "the customer")
    .argument("<id>", "ban id")
    .action((id: string, _o, cmd: Command) =>
      withCore(
        async (core) => {
          const o = cmd.optsWithGlobals<InCustomer>();
          const ban = await core.services.sipBans.lift(await customerAdmin(core, o.customerId), id);
          printList(
            o,
            { result: [ban] },
            fields<SipBan>("id", "source", "extension_id", "failures", "tm_expire"),
          );
        },
        { bus: true },
      ),
    );
}
