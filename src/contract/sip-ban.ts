// A source address banned after failed digest answers (CONTRACT §14), as GET /v1.0/sip-bans
// shows it to the customer whose extensions the failures targeted.
import { type Static, Type } from "@sinclair/typebox";
import { Id, Timestamp } from "./common.js";

export const SipBan = Type.Object({
  id: Id,
  source: Type.String({ description: "the banned source address", examples: ["203.0.113.7"] }),
  extension_id: Type.String({ description: 'the extension the last failed answer named; "" when none' }),
  failures: Type.Integer({ description: "failed digest answers that led to the ban" }),
  tm_create: Timestamp,
  tm_expire: Timestamp,
});
export type SipBan = Static<typeof SipBan>;

export const SipBanList = Type.Object({ result: Type.Array(SipBan) });
export type SipBanList = Static<typeof SipBanList>;
