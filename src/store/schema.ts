// The one database schema, shared by SQLite and PostgreSQL. Moments are stored as fixed-width
// text in the seed's format (see util/time.ts); a moment that has not happened is NULL.
import type { Generated } from "kysely";

export interface CustomersTable {
  id: string;
  name: string;
  detail: string;
  email: string;
  billing_account_id: string;
  status: string;
  tm_create: string;
  tm_update: string | null;
  tm_delete: string | null;
  /** the seq of the customer's last event (the outbox's counter) */
  event_seq: Generated<number>;
  webhook_method: Generated<string>;
  webhook_uri: Generated<string>;
  /** the webhook secret, sealed like extension passwords; null until one is made */
  webhook_secret_enc: Generated<string | null>;
  /** the seq of the last event delivered or given up on */
  webhook_cursor: Generated<number>;
  webhook_lease_owner: Generated<string>;
  webhook_lease_until: Generated<string>;
  /** the customer's audit counter (CONTRACT §17): serialises its audit writes */
  audit_seq: Generated<number>;
}

export interface DomainsTable {
  id: string;
  customer_id: string;
  name: string;
  detail: string;
  domain_name: string;
  tm_create: string;
  tm_update: string | null;
  tm_delete: string | null;
}

export interface UsersTable {
  id: string;
  customer_id: string;
  username: string;
  /** argon2id encoded hash */
  password_hash: string;
  role: string;
  /** incremented by every change that must end the user's login tokens (password, role, delete) */
  token_version: number;
  name: string;
  detail: string;
  tm_create: string;
  tm_update: string | null;
  tm_delete: string | null;
}

export interface AccessKeysTable {
  id: string;
  customer_id: string;
  name: string;
  detail: string;
  /** hex SHA-256 of the whole token; the token itself is never stored */
  token_hash: string;
  token_prefix: string;
  tm_expire: string;
  tm_create: string;
  tm_update: string | null;
  tm_delete: string | null;
}

export interface ExtensionsTable {
  id: string;
  customer_id: string;
  domain_id: string;
  name: string;
  detail: string;
  extension: string;
  /** AES-256-GCM sealed password, only while SIPEXT_SHOW_PASSWORDS=true; else NULL */
  password_enc: string | null;
  /** hex MD5(extension:realm:password), what the registrar needs for RFC 2617 digest */
  ha1_md5: string;
  /** hex SHA-256(extension:realm:password), for RFC 7616/8760 digest */
  ha1_sha256: string;
  direct_hash: string;
  tm_create: string;
  tm_update: string | null;
  tm_delete: string | null;
}

export interface BindingsTable {
  extension_id: string;
  /** the Contact URI as the device sent it */
  contact: string;
  customer_id: string;
  /** where the REGISTER really came from (RFC 3581) */
  received_ip: string;
  received_port: number;
  transport: string;
  user_agent: string;
  call_id: string;
  cseq: number;
  /** +sip.instance (RFC 5626), "" when absent */
  instance_id: string;
  /** granted lifetime in seconds */
  expires: number;
  tm_expire: string;
  tm_create: string;
  tm_update: string;
  /** the contact's q (RFC 3261 §10.2.1.2), null when it had none */
  q: number | null;
  /** reg-id (RFC 5626 §4.2), null when none */
  reg_id: number | null;
  /** the Path it registered through (RFC 3327): a JSON array of the values, "" when none */
  path: string;
  /** the node holding it, and where that node is reached (CONTRACT §15); "" alone */
  node_id: string;
  node_address: string;
}

export interface SipBansTable {
  id: string;
  source: string;
  customer_id: string | null;
  extension_id: string;
  failures: number;
  tm_create: string;
  tm_expire: string;
}

export interface EventsTable {
  customer_id: string;
  seq: number;
  id: string;
  type: string;
  tm_create: string;
  /** the event's data, JSON */
  data: string;
}

export interface WebhookDeliveriesTable {
  id: string;
  customer_id: string;
  event_id: string;
  event_seq: number;
  type: string;
  status: string;
  http_status: number;
  error: string;
  tm_create: string;
}

export interface CallsTable {
  id: string;
  customer_id: string;
  call_id: string;
  from_uri: string;
  to_uri: string;
  extension_id: string;
  caller_extension_id: string;
  /** 1 for a call to the direct URI, 0 for one to the extension's address */
  direct: number;
  source: string;
  status: string;
  result: string;
  sip_code: number;
  tm_create: string;
  /** "" until answered */
  tm_answer: string;
  /** "" until ended */
  tm_end: string;
  duration_ms: number;
}

export interface Database {
  customers: CustomersTable;
  domains: DomainsTable;
  users: UsersTable;
  access_keys: AccessKeysTable;
  extensions: ExtensionsTable;
  bindings: BindingsTable;
  sip_bans: SipBansTable;
  events: EventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  calls: CallsTable;
  provisioning_links: ProvisioningLinksTable;
  audit_events: AuditEventsTable;
}

/** A provisioning link (CONTRACT §17): only the SHA-256 of its token is kept. */
export interface ProvisioningLinksTable {
  id: string;
  customer_id: string;
  extension_id: string;
  token_hash: string;
  tm_expire: string;
  tm_create: string;
  /** set when revoked */
  tm_delete: string | null;
}

/** One credential action (CONTRACT §17); `fields` is a JSON array of field names, never values. */
export interface AuditEventsTable {
  id: string;
  customer_id: string;
  seq: number;
  action: string;
  extension_id: string;
  target_id: string;
  actor: string;
  source: string;
  fields: string;
  tm_create: string;
}
