import { AuditEvent, AuditEventQuery } from "../../contract/audit-event.js";
import { Page } from "../../contract/common.js";
import { principalOf } from "../plugins/auth.js";
import { route } from "../schemas.js";
import type { Routes } from "../services.js";

/** The audit log (CONTRACT §17), newest first, paged like every list. */
export const auditRoutes: Routes = async (app, { services }) => {
  app.get(
    "/audit-events",
    route(["audit"], Page(AuditEvent), {
      summary: "Credential actions: who, from where, when, which fields (never their values)",
      querystring: AuditEventQuery,
    }),
    (req) => services.audit.list(principalOf(req), req.query),
  );
};
