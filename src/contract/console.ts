// What the web console (src/console/, served at /) needs to know beyond the resources: the host
// part of direct URIs, where SIP over WebSocket is, and where its event stream starts.
import { type Static, Type } from "@sinclair/typebox";

export const ConsoleConfig = Type.Object({
  direct_domain: Type.String({
    description: "SIPEXT_DIRECT_DOMAIN: an extension's direct URI is sip:direct.<direct_hash>@<it>",
  }),
  sip_websocket_path: Type.String({
    description: "the path of SIP over WebSocket on this host (ws:// on HTTP, wss:// on HTTPS)",
  }),
  show_passwords: Type.Boolean({
    description: "SIPEXT_SHOW_PASSWORDS: false means a password is shown only in the create/update answer",
  }),
  events_seq: Type.Integer({
    description: "the customer's newest event seq now: GET /v1.0/events?after=<it> streams what follows",
  }),
});
export type ConsoleConfig = Static<typeof ConsoleConfig>;
