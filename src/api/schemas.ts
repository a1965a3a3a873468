// TypeBox schemas: the single source of request validation, response serialization and OpenAPI.
import { type TSchema, Type } from "@sinclair/typebox";
import {
  DETAIL_MAX,
  EXTENSION_PATTERN,
  EXTENSION_RULE,
  NAME_MAX,
  PASSWORD_PATTERN,
  PASSWORD_RULE,
} from "../domain/extension-rules.js";

const Timestamp = Type.String({
  description: 'UTC "YYYY-MM-DD HH:MM:SS.ffffff"; "" for a moment that has not happened',
  examples: ["2021-02-18 12:42:27.688282"],
});
const Id = Type.String({ format: "uuid" });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      status: Type.String({ examples: ["NOT_FOUND"] }),
      reason: Type.String({ examples: ["EXTENSION_NOT_FOUND"] }),
      message: Type.String(),
      request_id: Type.String(),
    }),
  },
  { $id: "Error" },
);

/** Every error status a resource route can send, each with the error body. */
export function withErrors<T extends Record<number, TSchema>>(ok: T) {
  const ref = Type.Ref("Error");
  return { ...ok, 400: ref, 401: ref, 403: ref, 404: ref, 409: ref, 413: ref, 415: ref, 429: ref, 500: ref };
}

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    result: Type.Array(item),
    next_page_token: Type.String({ description: 'tm_create of the last item; "" on an empty page' }),
  });

export const PageQuery = Type.Object(
  {
    page_size: Type.Optional(
      Type.String({ description: "1-100 (larger values are clamped to 100), default 100" }),
    ),
    page_token: Type.Optional(
      Type.String({ description: "next_page_token of the previous page (seed format or RFC 3339)" }),
    ),
  },
  { additionalProperties: true },
);

export const IdParams = Type.Object({ id: Type.String({ description: "UUID" }) });

export const Customer = Type.Object({
  id: Id,
  name: Type.String(),
  detail: Type.String(),
  email: Type.String(),
  billing_account_id: Type.String(),
  status: Type.String(),
  tm_create: Timestamp,
  tm_update: Timestamp,
  tm_delete: Timestamp,
});

export const Domain = Type.Object({
  id: Id,
  customer_id: Id,
  name: Type.String(),
  detail: Type.String(),
  domain_name: Type.String({ description: "<customer_id>.<SIPEXT_REGISTRAR_DOMAIN>: the digest realm" }),
  tm_create: Timestamp,
  tm_update: Timestamp,
  tm_delete: Timestamp,
});

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

const Name = Type.String({ maxLength: NAME_MAX });
const Detail = Type.String({ maxLength: DETAIL_MAX });
const SipPassword = Type.String({ pattern: PASSWORD_PATTERN, description: PASSWORD_RULE });

export const CreateExtensionBody = Type.Object({
  name: Type.Optional(Name),
  detail: Type.Optional(Detail),
  extension: Type.String({ pattern: EXTENSION_PATTERN, description: EXTENSION_RULE }),
  password: Type.Optional(SipPassword),
  domain_id: Type.Optional(Type.String({ description: "must be the caller's domain" })),
});

export const UpdateExtensionBody = Type.Object({
  name: Type.Optional(Name),
  detail: Type.Optional(Detail),
  password: Type.Optional(SipPassword),
});

export const AccessKey = Type.Object({
  id: Id,
  customer_id: Id,
  name: Type.String(),
  detail: Type.String(),
  token_prefix: Type.String(),
  tm_expire: Timestamp,
  tm_create: Timestamp,
  tm_update: Timestamp,
  tm_delete: Timestamp,
});

export const CreatedAccessKey = Type.Composite([
  AccessKey,
  Type.Object({ token: Type.String({ description: "shown in this answer only" }) }),
]);

export const CreateAccessKeyBody = Type.Object({
  name: Type.Optional(Name),
  detail: Type.Optional(Detail),
  expire: Type.Optional(Type.Integer({ minimum: 1, description: "lifetime in seconds; default one year" })),
});

export const UpdateAccessKeyBody = Type.Object({ name: Type.Optional(Name), detail: Type.Optional(Detail) });

export const Me = Type.Object(
  {
    type: Type.Union([Type.Literal("user"), Type.Literal("accesskey")]),
    id: Id,
    customer_id: Id,
    role: Type.String(),
    username: Type.Optional(Type.String()),
    name: Type.String(),
    detail: Type.String(),
    token_prefix: Type.Optional(Type.String()),
    tm_expire: Type.Optional(Timestamp),
    tm_create: Timestamp,
    tm_update: Timestamp,
    tm_delete: Timestamp,
  },
  { description: "the user, or the access key, behind the credential" },
);

export const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 256 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
});

export const LoginReply = Type.Object({ username: Type.String(), token: Type.String() });

export const Contact = Type.Object({
  uri: Type.String({ description: "the Contact URI the device registered" }),
  source: Type.String({ description: "ip:port the REGISTER really came from (RFC 3581)" }),
  transport: Type.String({ examples: ["UDP", "TCP"] }),
  user_agent: Type.String(),
  expires: Type.Integer({ description: "seconds left" }),
  tm_expire: Timestamp,
  call_id: Type.String(),
  cseq: Type.Integer(),
  instance_id: Type.String({ description: '+sip.instance (RFC 5626), "" when absent' }),
  tm_create: Timestamp,
  tm_update: Timestamp,
});

export const ContactList = Type.Object({ result: Type.Array(Contact) });
