// Call records as the API shows them (CONTRACT §13): the customer's calls, newest first,
// optionally of one extension. Tenant-scoped like everything.
import type { Call, CallListQuery } from "../contract/call.js";
import type { Page } from "../contract/common.js";
import type { CallRow, CallStore } from "../store/sql-calls.js";
import { notFound } from "./errors.js";
import { requireUuid } from "./ids.js";
import { parsePage, toPage } from "./paging.js";
import { type Principal, requireRole } from "./principal.js";

export const callView = (r: CallRow): Call => ({
  id: r.id,
  customer_id: r.customer_id,
  call_id: r.call_id,
  from_uri: r.from_uri,
  to_uri: r.to_uri,
  extension_id: r.extension_id,
  caller_extension_id: r.caller_extension_id,
  direct: Boolean(r.direct),
  source: r.source,
  status: r.status,
  result: r.result,
  sip_code: Number(r.sip_code),
  tm_create: r.tm_create,
  tm_answer: r.tm_answer,
  tm_end: r.tm_end,
  duration_ms: Number(r.duration_ms),
});

export function callService({ calls }: { calls: CallStore }) {
  const MANAGERS = ["admin", "manager"] as const;
  return {
    async list(p: Principal, q: CallListQuery): Promise<Page<Call>> {
      requireRole(p, MANAGERS);
      const page = parsePage(q.page_size, q.page_token);
      const ext =
        q.extension_id === undefined || q.extension_id === ""
          ? undefined
          : requireUuid("extension_id", q.extension_id);
      return toPage(await calls.list(p.customerId, page, ext), callView);
    },
    async get(p: Principal, id: string): Promise<Call> {
      requireRole(p, MANAGERS);
      const row = await calls.get(p.customerId, requireUuid("id", id));
      if (!row) throw notFound("call");
      return callView(row);
    },
  };
}

export type CallService = ReturnType<typeof callService>;
