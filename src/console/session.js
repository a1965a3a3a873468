// What the console knows once logged in: the caller (GET /v1.0/me), the console settings
// (GET /v1.0/console-config) and the customer's SIP domain (GET /v1.0/domains).
import { api } from "./api.js";

export const session = {
  /** GET /v1.0/me */
  me: undefined,
  /** GET /v1.0/console-config: direct_domain, sip_websocket_path, show_passwords, events_seq */
  config: undefined,
  /** the customer's SIP domain (realm, host of every address of record) */
  domain: "",
};

export async function loadSession() {
  session.me = await api("GET", "/v1.0/me");
  session.config = await api("GET", "/v1.0/console-config");
  const domains = await api("GET", "/v1.0/domains");
  session.domain = domains.result[0]?.domain_name ?? "";
}

export function clearSession() {
  session.me = undefined;
  session.config = undefined;
  session.domain = "";
}

/** An extension's public address: sip:direct.<hash>@<direct domain>. */
export const directUri = (hash) => `sip:direct.${hash}@${session.config?.direct_domain ?? ""}`;

/** SIP over WebSocket on this host: wss:// when the page came over HTTPS. */
export const sipWebSocketUrl = () =>
  `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${session.config?.sip_websocket_path ?? "/sip"}`;
