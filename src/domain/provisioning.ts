// Provisioning links (CONTRACT §17, VoIPbin's Linphone QR provisioning): a short-lived public URL
// that gives one extension's SIP settings to whoever holds it, any number of times until it
// expires or is revoked. Only the token's SHA-256 is kept; an unknown, expired or revoked token
// gets one and the same 404. Every fetch is an `extension_provisioning_used` event and an audit
// record, with the fetcher's address.
import { randomUUID } from "node:crypto";
import QRCode from "qrcode";
import type { Extension } from "../contract/extension.js";
import {
  type CreateProvisioningBody,
  type IssuedProvisioningLink,
  type PhoneSettings,
  PROVISIONING_EXPIRE_DEFAULT_S,
  PROVISIONING_EXPIRE_MAX_S,
  PROVISIONING_EXPIRE_MIN_S,
  type ProvisioningLink,
} from "../contract/provisioning.js";
import type { ExtensionStore, ExtensionView } from "../store/ports.js";
import type { ProvisioningLinkRow, ProvisioningStore } from "../store/provisioning.js";
import { apiTime, type Clock, formatMicros, parseTimestamp } from "../util/time.js";
import { auditOf } from "./audit.js";
import { invalidArgument, notFound } from "./errors.js";
import { requireUuid } from "./ids.js";
import { type Principal, requireRole } from "./principal.js";
import { randomSecret, type Sealer, sha256Hex } from "./secrets.js";

/** Provisioning tokens start with this (told apart from access keys and JWTs at a glance). */
export const PROVISIONING_TOKEN_PREFIX = "sxp_";
/** The registration interval a provisioned phone is given, seconds. */
const REG_EXPIRES_S = 600;

/** Where phones send their SIP: this node's advertised address and port (known once SIP is up). */
export interface SipEndpoint {
  host: string;
  port: number;
  transport: "udp" | "tcp";
}

export interface ProvisioningDeps {
  links: ProvisioningStore;
  extensions: ExtensionStore;
  sealer: Sealer;
  clock: Clock;
  showPasswords: boolean;
  sip: SipEndpoint;
  /** the extension as the API shows it, without its password (the event's data) */
  view: (row: ExtensionView, shownPassword?: string) => Extension;
}

const linkView = (r: ProvisioningLinkRow): ProvisioningLink => ({
  id: r.id,
  extension_id: r.extension_id,
  tm_expire: r.tm_expire,
  tm_create: r.tm_create,
  tm_delete: apiTime(r.tm_delete),
});

const linkNotFound = () => notFound("provisioning_link");

export function provisioningService(deps: ProvisioningDeps) {
  const { links, extensions, sealer, clock } = deps;

  async function liveExtension(p: Principal, id: string): Promise<ExtensionView> {
    requireRole(p, ["admin", "manager"]);
    const row = await extensions.get(p.customerId, requireUuid("id", id));
    if (!row || row.tm_delete !== null) throw notFound("extension");
    return row;
  }

  function settings(ext: ExtensionView, link: ProvisioningLinkRow): PhoneSettings {
    const password = deps.showPasswords && ext.password_enc ? sealer.open(ext.password_enc) : undefined;
    const { host, port, transport } = deps.sip;
    return {
      extension: ext.extension,
      username: ext.extension,
      domain: ext.domain_name,
      realm: ext.domain_name,
      identity: `sip:${ext.extension}@${ext.domain_name}`,
      password: password ?? "",
      ha1: password === undefined ? ext.ha1_md5 : "",
      password_recoverable: password !== undefined,
      outbound_proxy: `sip:${host.includes(":") ? `[${host}]` : host}:${port};transport=${transport}`,
      transport,
      reg_expires: REG_EXPIRES_S,
      tm_expire: link.tm_expire,
    };
  }

  return {
    /** A new link for a live extension; `baseUrl` is how the caller reached this API. */
    async issue(
      p: Principal,
      extensionId: string,
      body: CreateProvisioningBody | undefined,
      baseUrl: string,
    ): Promise<IssuedProvisioningLink> {
      if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body)))
        throw invalidArgument("body", "must be a JSON object, or absent");
      const expire = body?.expire ?? PROVISIONING_EXPIRE_DEFAULT_S;
      if (
        !Number.isInteger(expire) ||
        expire < PROVISIONING_EXPIRE_MIN_S ||
        expire > PROVISIONING_EXPIRE_MAX_S
      )
        throw invalidArgument(
          "expire",
          `must be a whole number of seconds from ${PROVISIONING_EXPIRE_MIN_S} to ${PROVISIONING_EXPIRE_MAX_S}`,
        );
      const ext = await liveExtension(p, extensionId);
      const token = `${PROVISIONING_TOKEN_PREFIX}${randomSecret(32)}`;
      const now = clock();
      const row: ProvisioningLinkRow = {
        id: randomUUID(),
        customer_id: p.customerId,
        extension_id: ext.id,
        token_hash: sha256Hex(token),
        tm_expire: formatMicros(now + expire * 1_000_000),
        tm_create: formatMicros(now),
        tm_delete: null,
      };
      const target = { extensionId: ext.id, targetId: row.id, fields: ["token"] };
      await links.insert(row, auditOf(p, "extension_provisioning_issued", target, row.tm_create));
      const url = `${baseUrl}/provisioning/extension?token=${token}`;
      const qr_svg = await QRCode.toString(url, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
      return { id: row.id, url, token, qr_svg, tm_expire: row.tm_expire };
    },

    async revoke(p: Principal, extensionId: string, linkId: string): Promise<ProvisioningLink> {
      requireRole(p, ["admin", "manager"]);
      const ext = requireUuid("id", extensionId);
      const row = await links.get(p.customerId, requireUuid("pid", linkId));
      if (!row || row.extension_id !== ext || row.tm_delete !== null) throw linkNotFound();
      const now = formatMicros(clock());
      const target = { extensionId: ext, targetId: row.id, fields: ["tm_delete"] };
      if (!(await links.revoke(row, now, auditOf(p, "extension_provisioning_revoked", target, now))))
        throw linkNotFound();
      return linkView({ ...row, tm_delete: now });
    },

    /**
     * The settings behind a token, for `source`; one 404 for every token that does not work (unknown,
     * expired, revoked, its extension deleted), so the answer tells a guesser nothing.
     */
    async fetch(token: string | undefined, source: string): Promise<PhoneSettings> {
      if (!token?.startsWith(PROVISIONING_TOKEN_PREFIX) || token.length > 128) throw linkNotFound();
      const link = await links.getByTokenHash(sha256Hex(token));
      const now = clock();
      if (!link || link.tm_delete !== null || (parseTimestamp(link.tm_expire) ?? 0) <= now)
        throw linkNotFound();
      const ext = await extensions.get(link.customer_id, link.extension_id);
      if (!ext || ext.tm_delete !== null) throw linkNotFound();
      const tmCreate = formatMicros(now);
      const event = {
        type: "extension_provisioning_used",
        data: { ...deps.view(ext, ""), provisioning_id: link.id, source },
        tmCreate,
      };
      const target = { extensionId: ext.id, targetId: link.id, fields: ["password"] };
      const actor = {
        kind: "user" as const,
        id: "provisioning",
        customerId: link.customer_id,
        role: "agent" as const,
      };
      await links.used(
        link,
        event,
        auditOf({ ...actor, source }, "extension_provisioning_used", target, tmCreate),
      );
      return settings(ext, link);
    },
  };
}

export type ProvisioningService = ReturnType<typeof provisioningService>;
