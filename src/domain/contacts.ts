// The registered devices of an extension, as the API shows them (CONTRACT §7). The registrar's
// location service stands behind the ContactDirectory port; this module knows nothing of SIP.
import type { ExtensionStore } from "../store/ports.js";
import { notFound } from "./errors.js";
import { requireUuid } from "./ids.js";
import { type Principal, requireRole } from "./principal.js";

export interface Contact {
  uri: string;
  /** "ip:port" the REGISTER really came from */
  source: string;
  transport: string;
  user_agent: string;
  /** seconds left */
  expires: number;
  tm_expire: string;
  call_id: string;
  cseq: number;
  instance_id: string;
  tm_create: string;
  tm_update: string;
}

export interface ContactDirectory {
  list(extensionId: string): Contact[];
  /** Ends every registration of the extension; returns what was removed. */
  removeAll(extensionId: string): Contact[];
}

export function contactService(deps: { extensions: ExtensionStore; directory: ContactDirectory }) {
  const { extensions, directory } = deps;

  async function owned(p: Principal, id: string, live: boolean) {
    requireRole(p, ["admin", "manager"]);
    const row = await extensions.get(p.customerId, requireUuid("id", id));
    if (!row || (live && row.tm_delete !== null)) throw notFound("extension");
    return row;
  }

  return {
    async list(p: Principal, id: string): Promise<{ result: Contact[] }> {
      const row = await owned(p, id, false);
      return { result: directory.list(row.id) };
    },
    /** Force-unregisters every device; answers with the contacts that were removed. */
    async removeAll(p: Principal, id: string): Promise<{ result: Contact[] }> {
      const row = await owned(p, id, true);
      return { result: directory.removeAll(row.id) };
    },
  };
}

export type ContactService = ReturnType<typeof contactService>;
