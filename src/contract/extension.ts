// The extension (CONTRACT §6): SIP credentials + address of record + direct URI. Its field rules
// are written here once: the schemas show them in OpenAPI, and the domain checks input with them.
import { type Static, Type } from "@sinclair/typebox";
import { Detail, Id, Name, PageQuery, Timestamp } from "./common.js";

/** Safe in a SIP URI user part without escaping (RFC 3261 unreserved minus a few + "!~"). */
export const EXTENSION_PATTERN = "^[A-Za-z0-9._\\-+~!]{1,40}$";
export const EXTENSION_RULE = "1-40 characters from A-Z a-z 0-9 . _ - + ~ !";
/** Printable ASCII without space. */
export const PASSWORD_PATTERN = "^[\\x21-\\x7E]{8,80}$";
export const PASSWORD_RULE = "8-80 printable ASCII characters without spaces";

/** Keys in the order of CONTRACT §6: the serializer writes them in this order. */
export const Extension = Type.Object({
  id: Id,
  customer_id: Id,
  name: Type.String(),
  detail: Type.String(),
  domain_id: Id,
  extension: Type.String(),
  domain_name: Type.String(),
  username: Type.String({ description: "always equal to extension" }),
  password: Type.String({
    description: '"" unless SIPEXT_SHOW_PASSWORDS=true or this is the create/update answer',
  }),
  direct_hash: Type.String({
    description: "12 hex characters: sip:direct.<direct_hash>@<SIPEXT_DIRECT_DOMAIN>",
  }),
  tm_create: Timestamp,
  tm_update: Timestamp,
  tm_delete: Timestamp,
});
export type Extension = Static<typeof Extension>;

const SipPassword = Type.String({ pattern: PASSWORD_PATTERN, description: PASSWORD_RULE });

export const CreateExtensionBody = Type.Object({
  name: Type.Optional(Name),
  detail: Type.Optional(Detail),
  extension: Type.String({ pattern: EXTENSION_PATTERN, description: EXTENSION_RULE }),
  password: Type.Optional(SipPassword),
  domain_id: Type.Optional(Type.String({ description: "must be the caller's domain" })),
});
export type CreateExtensionBody = Static<typeof CreateExtensionBody>;

/** An omitted field keeps its value; `extension` cannot change. */
export const UpdateExtensionBody = Type.Object({
  name: Type.Optional(Name),
  detail: Type.Optional(Detail),
  password: Type.Optional(SipPassword),
});
export type UpdateExtensionBody = Static<typeof UpdateExtensionBody>;

export const ExtensionListQuery = Type.Composite(
  [
    PageQuery,
    Type.Object({
      domain_id: Type.Optional(Type.String({ description: "keep the extensions of this domain" })),
    }),
  ],
  { additionalProperties: true },
);
export type ExtensionListQuery = Static<typeof ExtensionListQuery>;
