// An event (CONTRACT §11), as GET /v1.0/events and the webhooks carry it.
import { type Static, Type } from "@sinclair/typebox";
import { Id, Timestamp } from "./common.js";

export const EVENT_TYPES = [
  "extension_created",
  "extension_updated",
  "extension_deleted",
  "extension_registered",
  "extension_unregistered",
  "extension_auth_failed",
  "extension_provisioning_used",
  "sip_ban_created",
  "sip_ban_deleted",
  "call_started",
  "call_answered",
  "call_ended",
] as const;

export const Event = Type.Object({
  id: Id,
  seq: Type.Integer({ description: "increasing per customer; the SSE id and the resume point" }),
  type: Type.String({ examples: ["extension_registered"] }),
  customer_id: Id,
  tm_create: Timestamp,
  data: Type.Unknown({ description: "the extension, contact, ban or call record; never a secret" }),
});
export type Event = Static<typeof Event>;

export const EventPage = Type.Object({
  result: Type.Array(Event),
  next_page_token: Type.String({ description: "the seq of the last event; `after` for the next page" }),
});
export type EventPage = Static<typeof EventPage>;

export const EventQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ description: "seq to start after (default 0: the oldest kept)" })),
    page_size: Type.Optional(Type.String({ description: "1-100, default 100 (JSON pages)" })),
    type: Type.Optional(
      Type.String({
        description: "comma list of types; `extension_*` matches a prefix",
        examples: ["extension_*,call_ended"],
      }),
    ),
  },
  { additionalProperties: true },
);
export type EventQuery = Static<typeof EventQuery>;
