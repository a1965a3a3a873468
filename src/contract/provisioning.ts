// Provisioning links (CONTRACT §17): what issuing one answers, and what the public endpoint gives a
// phone as JSON (the Linphone XML and the baresip line carry the same settings).
import { type Static, Type } from "@sinclair/typebox";
import { Id, Timestamp } from "./common.js";

export const PROVISIONING_EXPIRE_DEFAULT_S = 600;
export const PROVISIONING_EXPIRE_MIN_S = 60;
export const PROVISIONING_EXPIRE_MAX_S = 86_400;

export const CreateProvisioningBody = Type.Object({
  expire: Type.Optional(
    Type.Integer({
      description: `seconds the link works, ${PROVISIONING_EXPIRE_MIN_S}-${PROVISIONING_EXPIRE_MAX_S}, default ${PROVISIONING_EXPIRE_DEFAULT_S}`,
    }),
  ),
});
export type CreateProvisioningBody = Static<typeof CreateProvisioningBody>;

export const IssuedProvisioningLink = Type.Object({
  id: Id,
  url: Type.String({ description: "the public link a phone fetches (and the QR code's content)" }),
  token: Type.String({ description: "shown in this answer only; only its SHA-256 is kept" }),
  qr_svg: Type.String({ description: "the URL as a QR code, an SVG document" }),
  tm_expire: Timestamp,
});
export type IssuedProvisioningLink = Static<typeof IssuedProvisioningLink>;

export const ProvisioningLink = Type.Object({
  id: Id,
  extension_id: Id,
  tm_expire: Timestamp,
  tm_create: Timestamp,
  tm_delete: Timestamp,
});
export type ProvisioningLink = Static<typeof ProvisioningLink>;

export const ProvisioningParams = Type.Object({ id: Type.String(), pid: Type.String() });

export const PROVISIONING_FORMATS = ["linphone", "json", "baresip"] as const;
export type ProvisioningFormat = (typeof PROVISIONING_FORMATS)[number];

export const ProvisioningQuery = Type.Object(
  {
    token: Type.Optional(Type.String()),
    format: Type.Optional(Type.String({ description: "linphone (XML, the default), json or baresip" })),
  },
  { additionalProperties: true },
);
export type ProvisioningQuery = Static<typeof ProvisioningQuery>;

/** The phone's settings, as `?format=json` gives them. */
export const PhoneSettings = Type.Object({
  extension: Type.String(),
  username: Type.String(),
  domain: Type.String({ description: "the customer's SIP domain: AOR host part and digest realm" }),
  realm: Type.String(),
  identity: Type.String({ examples: ["sip:test12@<customer id>.registrar.localhost"] }),
  password: Type.String({ description: '"" when SIPEXT_SHOW_PASSWORDS=false (then ha1 is given)' }),
  ha1: Type.String({ description: 'MD5(username:realm:password) hex; "" when the password is given' }),
  password_recoverable: Type.Boolean({
    description: "false: the server keeps no password (SIPEXT_SHOW_PASSWORDS=false), ha1 stands for it",
  }),
  outbound_proxy: Type.String({ examples: ["sip:sip.example.com:5060;transport=udp"] }),
  transport: Type.String(),
  reg_expires: Type.Integer(),
  tm_expire: Timestamp,
});
export type PhoneSettings = Static<typeof PhoneSettings>;
