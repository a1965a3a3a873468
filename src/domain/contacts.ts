// The registered devices of an extension, as the API shows them (CONTRACT §7). The registrar's
// location service stands behind the ContactDirectory port; this module knows nothing of SIP.
import type { Contact, ContactList } from "../contract/contact.js";
import type { AuditStore } from "../store/audit.js";
import type { ExtensionStore } from "../store/ports.js";
import { type Clock, formatMicros, systemClock } from "../util/time.js";
import { auditOf } from "./audit.js";
import { notFound } from "./errors.js";
import { requireUuid } from "./ids.js";
import { type Principal, requireRole } from "./principal.js";

export interface ContactDirectory {
  list(extensionId: string): Contact[];
  /** Ends every registration of the extension; returns what was removed. */
  removeAll(extensionId: string): Contact[];
}

export function contactService(deps: {
  extensions: ExtensionStore;
  directory: ContactDirectory;
  /** where force-unregistering is recorded (CONTRACT §17) */
  audit?: AuditStore;
  clock?: Clock;
}) {
  const { extensions, directory, audit, clock = systemClock() } = deps;

  async function owned(p: Principal, id: string, live: boolean) {
    requireRole(p, ["admin", "manager"]);
    const row = await extensions.get(p.customerId, requireUuid("id", id));
    if (!row || (live && row.tm_delete !== null)) throw notFound("extension");
    return row;
  }

  return {
    async list(p: Principal, id: string): Promise<ContactList> {
      const row = await owned(p, id, false);
      return { result: directory.list(row.id) };
    },
    /** Force-unregisters every device; answers with the contacts that were removed. */
    async removeAll(p: Principal, id: string): Promise<ContactList> {
      const row = await owned(p, id, true);
      const removed = directory.removeAll(row.id);
      // The bindings are written behind by the registrar's location service (its own batches), so
      // this record is written on its own, once the devices are gone from memory.
      await audit?.append(
        row.customer_id,
        auditOf(
          p,
          "extension_contacts_unregistered",
          { extensionId: row.id, targetId: row.id, fields: ["contacts"] },
          formatMicros(clock()),
        ),
      );
      return { result: removed };
    },
  };
}

export type ContactService = ReturnType<typeof contactService>;
