// A call record (CONTRACT §13): a call the proxy forwarded to an extension's devices.
import { type Static, Type } from "@sinclair/typebox";
import { Id, PageQuery, Timestamp } from "./common.js";

export const CALL_RESULTS = [
  "",
  "answered",
  "busy",
  "declined",
  "no_answer",
  "canceled",
  "unavailable",
  "failed",
] as const;

export const Call = Type.Object({
  id: Id,
  customer_id: Id,
  call_id: Type.String({ description: "the SIP Call-ID" }),
  from_uri: Type.String(),
  to_uri: Type.String(),
  extension_id: Id,
  caller_extension_id: Type.String({ description: 'the calling extension; "" for a call to the direct URI' }),
  direct: Type.Boolean(),
  source: Type.String({ description: "ip:port the INVITE came from" }),
  status: Type.String({ examples: ["ringing", "answered", "ended"] }),
  result: Type.String({ description: '"" while ringing', examples: [...CALL_RESULTS.slice(1)] }),
  sip_code: Type.Integer({ description: "the final status the caller got; 0 while ringing" }),
  tm_create: Timestamp,
  tm_answer: Timestamp,
  tm_end: Timestamp,
  duration_ms: Type.Integer({ description: "from the answer to the end; 0 when not answered" }),
});
export type Call = Static<typeof Call>;

export const CallListQuery = Type.Intersect([
  PageQuery,
  Type.Object({
    extension_id: Type.Optional(
      Type.String({ description: "the calls of one extension (called or calling)" }),
    ),
  }),
]);
export type CallListQuery = Static<typeof CallListQuery>;
