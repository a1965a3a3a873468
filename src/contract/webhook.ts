// The customer's webhook (CONTRACT §11): its signing secret, shown once, and the log of delivery
// attempts that GET /v1.0/webhook-deliveries lists.
import { type Static, Type } from "@sinclair/typebox";
import { Id, Timestamp } from "./common.js";

/** Every secret starts with this; the HMAC key is the whole string, prefix included. */
export const WEBHOOK_SECRET_PREFIX = "whsec_";

export const WebhookSecret = Type.Object({
  webhook_secret: Type.String({
    description: "whsec_ + 43 base64url characters (256 bits); shown in this answer only",
  }),
});
export type WebhookSecret = Static<typeof WebhookSecret>;

export const DELIVERY_STATUSES = ["delivered", "failed", "given_up"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const WebhookDelivery = Type.Object({
  id: Id,
  customer_id: Id,
  event_id: Id,
  event_seq: Type.Integer({ description: "the event's seq" }),
  type: Type.String({ description: "the event's type" }),
  status: Type.Unsafe<DeliveryStatus>({
    type: "string",
    enum: [...DELIVERY_STATUSES],
    description:
      "delivered (2xx), failed (retried later) or given_up (24 h of failures; the next event goes)",
  }),
  http_status: Type.Integer({ description: "the receiver's status code; 0 when it gave none" }),
  error: Type.String({ description: 'why the attempt failed; "" when delivered' }),
  tm_create: Timestamp,
});
export type WebhookDelivery = Static<typeof WebhookDelivery>;
