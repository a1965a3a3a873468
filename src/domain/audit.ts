// The audit log (CONTRACT §17): the records credential actions write (in their own transaction,
// through the stores), and reading a customer's, newest first. Tenant-scoped like everything.
import type { AuditEvent, AuditEventQuery } from "../contract/audit-event.js";
import type { Page } from "../contract/common.js";
import type { AuditDraft, AuditRow, AuditStore } from "../store/audit.js";
import { requireUuid } from "./ids.js";
import { parsePage, toPage } from "./paging.js";
import { type Principal, requireRole } from "./principal.js";

/** What an action was done to. */
export interface AuditTarget {
  extensionId?: string;
  targetId: string;
  fields?: readonly string[];
}

/** The record of `action` by the caller `p`. */
export function auditOf(p: Principal, action: string, t: AuditTarget, tmCreate: string): AuditDraft {
  return {
    action,
    extensionId: t.extensionId ?? "",
    targetId: t.targetId,
    actor: p.actor ?? p.id,
    source: p.source ?? "",
    fields: t.fields ?? [],
    tmCreate,
  };
}

/** The record of an action of the `sipext` command, run on the server's machine. */
export function cliAudit(action: string, targetId: string, fields: readonly string[], tmCreate: string) {
  return { action, extensionId: "", targetId, actor: "cli", source: "local", fields, tmCreate };
}

const view = (r: AuditRow): AuditEvent => ({
  id: r.id,
  customer_id: r.customer_id,
  action: r.action,
  extension_id: r.extension_id,
  target_id: r.target_id,
  actor: r.actor,
  source: r.source,
  fields: JSON.parse(r.fields) as string[],
  tm_create: r.tm_create,
});

export function auditService(deps: { audit: AuditStore }) {
  return {
    async list(p: Principal, q: AuditEventQuery): Promise<Page<AuditEvent>> {
      requireRole(p, ["admin", "manager"]);
      const page = parsePage(q.page_size, q.page_token);
      const extensionId =
        q.extension_id === undefined || q.extension_id === ""
          ? undefined
          : requireUuid("extension_id", q.extension_id);
      return toPage(await deps.audit.list(p.customerId, { ...page, extensionId }), view);
    },
  };
}

export type AuditService = ReturnType<typeof auditService>;
