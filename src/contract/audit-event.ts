// An audit record (CONTRACT §17): who did what to which credential, from where and when; the
// changed field names only, never a secret's value.
import { type Static, Type } from "@sinclair/typebox";
import { Id, PageQuery, Timestamp } from "./common.js";

export const AUDIT_ACTIONS = [
  "extension_created",
  "extension_updated",
  "extension_deleted",
  "extension_password_set",
  "extension_direct_hash_regenerated",
  "extension_provisioning_issued",
  "extension_provisioning_used",
  "extension_provisioning_revoked",
  "extension_contacts_unregistered",
  "accesskey_created",
  "accesskey_revoked",
  "user_password_reset",
  "sip_ban_lifted",
] as const;

export const AuditEvent = Type.Object({
  id: Id,
  customer_id: Id,
  action: Type.String({ examples: ["extension_password_set"] }),
  extension_id: Type.String({ description: 'the extension acted on; "" for none' }),
  target_id: Type.String({ description: "what was acted on: extension, link, access key, user or ban id" }),
  actor: Type.String({
    description: "a user id, an access key's token prefix, `cli`, or `provisioning` (a link fetched)",
  }),
  source: Type.String({ description: "the client's address" }),
  fields: Type.Array(Type.String(), { description: "the changed field names, never values" }),
  tm_create: Timestamp,
});
export type AuditEvent = Static<typeof AuditEvent>;

export const AuditEventQuery = Type.Composite(
  [PageQuery, Type.Object({ extension_id: Type.Optional(Type.String({ description: "one extension's" })) })],
  { additionalProperties: true },
);
export type AuditEventQuery = Static<typeof AuditEventQuery>;
