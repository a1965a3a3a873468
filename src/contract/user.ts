// Users, their login, and the caller as GET /v1.0/me shows it (CONTRACT §4).
import { type Static, Type } from "@sinclair/typebox";
import { Id, Timestamp } from "./common.js";

export const ROLES = ["admin", "manager", "agent"] as const;
export const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));
export type Role = Static<typeof Role>;

/** A user as the CLI prints it; the password hash never leaves the store. */
export const User = Type.Object({
  id: Id,
  customer_id: Id,
  username: Type.String(),
  name: Type.String(),
  detail: Type.String(),
  role: Role,
  tm_create: Timestamp,
  tm_update: Timestamp,
  tm_delete: Timestamp,
});
export type User = Static<typeof User>;

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
export type Me = Static<typeof Me>;

export const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 256 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
});
export type LoginBody = Static<typeof LoginBody>;

export const LoginReply = Type.Object({ username: Type.String(), token: Type.String() });
export type LoginReply = Static<typeof LoginReply>;
