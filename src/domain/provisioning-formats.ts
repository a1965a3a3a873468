// The phone's settings in the three shapes of CONTRACT §17: Linphone's remote-provisioning XML
// (the lpconfig.xsd document Linphone fetches from a provisioning URI: one <section> per
// linphonerc section, one <entry> per key), the same as JSON, and one baresip `accounts` line
// as README "Registering a phone" configures baresip.
import type { PhoneSettings } from "../contract/provisioning.js";

const escapeXml = (v: string) =>
  v.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] ?? c,
  );

function section(name: string, entries: Array<[string, string]>): string {
  const lines = entries.map(([k, v]) => `    <entry name="${k}" overwrite="true">${escapeXml(v)}</entry>`);
  return `  <section name="${name}">\n${lines.join("\n")}\n  </section>`;
}

/**
 * linphonerc keys (liblinphone's "Provisioning configuration keys"): `[proxy_0]` reg_proxy,
 * reg_route (the outbound proxy, loose-routed), reg_identity, reg_expires, reg_sendregister, realm;
 * `[auth_info_0]` username, userid, passwd — or ha1 with its algorithm when the password is not
 * kept — realm and domain.
 */
export function linphoneXml(s: PhoneSettings): string {
  const proxy: Array<[string, string]> = [
    ["reg_proxy", `<${s.outbound_proxy}>`],
    ["reg_route", `<${s.outbound_proxy};lr>`],
    ["reg_identity", `<${s.identity}>`],
    ["reg_expires", String(s.reg_expires)],
    ["reg_sendregister", "1"],
    ["realm", s.realm],
  ];
  const secret: Array<[string, string]> = s.password_recoverable
    ? [["passwd", s.password]]
    : [
        ["ha1", s.ha1],
        ["algorithm", "MD5"],
      ];
  const auth: Array<[string, string]> = [
    ["username", s.username],
    ["userid", s.username],
    ...secret,
    ["realm", s.realm],
    ["domain", s.domain],
  ];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<config xmlns="http://www.linphone.org/xsds/lpconfig.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.linphone.org/xsds/lpconfig.xsd lpconfig.xsd">',
    section("proxy_0", proxy),
    section("auth_info_0", auth),
    "</config>",
    "",
  ].join("\n");
}

/** baresip's `accounts` line; undefined when the password is not kept (baresip takes no HA1). */
export function baresipLine(s: PhoneSettings): string | undefined {
  if (!s.password_recoverable) return undefined;
  return `<${s.identity}>;auth_pass=${s.password};outbound="${s.outbound_proxy}";regint=${s.reg_expires}\n`;
}
