// A device registered to an extension, as GET /v1.0/extensions/{id}/contacts shows it (CONTRACT §7).
import { type Static, Type } from "@sinclair/typebox";
import { Timestamp } from "./common.js";

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
export type Contact = Static<typeof Contact>;

export const ContactList = Type.Object({ result: Type.Array(Contact) });
export type ContactList = Static<typeof ContactList>;
