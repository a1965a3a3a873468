// The customer, a tenant (CONTRACT §4); billing_account_id is kept for VoIPbin clients. Its one
// webhook (CONTRACT §11) is set here as VoIPbin sets it: webhook_method and webhook_uri.
import { type Static, Type } from "@sinclair/typebox";
import { Detail, Id, Name, Timestamp } from "./common.js";

export const WEBHOOK_METHODS = ["POST", "PUT", ""] as const;
export type WebhookMethod = (typeof WEBHOOK_METHODS)[number];
export const WEBHOOK_URI_MAX = 2048;
export const EMAIL_MAX = 254;

export const Customer = Type.Object({
  id: Id,
  name: Type.String(),
  detail: Type.String(),
  email: Type.String(),
  billing_account_id: Type.String(),
  status: Type.String(),
  webhook_method: Type.String({ description: '"POST", "PUT", or "" (POST when a webhook_uri is set)' }),
  webhook_uri: Type.String({ description: 'where events are delivered; "" for no webhook' }),
  tm_create: Timestamp,
  tm_update: Timestamp,
  tm_delete: Timestamp,
});
export type Customer = Static<typeof Customer>;

/** An omitted field keeps its value. */
export const UpdateCustomerBody = Type.Object({
  name: Type.Optional(Name),
  detail: Type.Optional(Detail),
  email: Type.Optional(Type.String({ maxLength: EMAIL_MAX })),
  webhook_method: Type.Optional(
    Type.Unsafe<WebhookMethod>({ type: "string", enum: [...WEBHOOK_METHODS], description: '"" means POST' }),
  ),
  webhook_uri: Type.Optional(
    Type.String({
      maxLength: WEBHOOK_URI_MAX,
      description:
        'an absolute http(s) URL on a public address (unless SIPEXT_WEBHOOK_ALLOW_PRIVATE=true); "" removes the webhook',
      examples: ["https://example.com/sipext-events"],
    }),
  ),
});
export type UpdateCustomerBody = Static<typeof UpdateCustomerBody>;
