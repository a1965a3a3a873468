// Access keys (CONTRACT §4): long-lived API credentials; the token is in the create answer only.
import { type Static, Type } from "@sinclair/typebox";
import { Detail, Id, Name, Timestamp } from "./common.js";

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
export type AccessKey = Static<typeof AccessKey>;

export const CreatedAccessKey = Type.Composite([
  AccessKey,
  Type.Object({ token: Type.String({ description: "shown in this answer only" }) }),
]);
export type CreatedAccessKey = Static<typeof CreatedAccessKey>;

export const CreateAccessKeyBody = Type.Object({
  name: Type.Optional(Name),
  detail: Type.Optional(Detail),
  expire: Type.Optional(Type.Integer({ minimum: 1, description: "lifetime in seconds; default one year" })),
});
export type CreateAccessKeyBody = Static<typeof CreateAccessKeyBody>;

export const UpdateAccessKeyBody = Type.Object({ name: Type.Optional(Name), detail: Type.Optional(Detail) });
export type UpdateAccessKeyBody = Static<typeof UpdateAccessKeyBody>;
