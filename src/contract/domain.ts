// A customer's SIP domain (CONTRACT §5): the digest realm and the host of its addresses of record.
import { type Static, Type } from "@sinclair/typebox";
import { Id, Timestamp } from "./common.js";

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
export type Domain = Static<typeof Domain>;
