// The one database schema, shared by SQLite and PostgreSQL. Moments are stored as fixed-width
// text in the seed's format (see util/time.ts); a moment that has not happened is NULL.

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
}

export interface Database {
  customers: CustomersTable;
  domains: DomainsTable;
  users: UsersTable;
  access_keys: AccessKeysTable;
  extensions: ExtensionsTable;
  bindings: BindingsTable;
}
