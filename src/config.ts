// Typed configuration, read once from the environment (CONTRACT §2) and passed down.
// Services never read process.env themselves.
import { BlockList, isIP } from "node:net";
import { availableParallelism, networkInterfaces } from "node:os";

export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  httpHost: string;
  httpPort: number;
  sipHost: string;
  sipPort: number;
  /** the address put into Via and Record-Route: where other SIP elements reach this node */
  sipAdvertisedHost: string;
  /** seconds a call rings before it is given up (480) */
  ringTimeoutS: number;
  /** offer SHA-256 digest (RFC 8760) after MD5 in every challenge */
  digestSha256: boolean;
  registrarDomain: string;
  directDomain: string;
  adminUsername: string;
  adminPassword: string | undefined;
  showPasswords: boolean;
  logLevel: string;
  /** SIPEXT_LOG_FORMAT (CONTRACT §12): JSON lines (pino) by default, or readable for a terminal */
  logFormat: "json" | "pretty";
  /** SIPEXT_METRICS_TOKEN: when set, GET /metrics needs `Authorization: Bearer <it>` */
  metricsToken: string | undefined;
  /** 32-byte key (base64 or hex) for extension passwords at rest; generated in dataDir when unset. */
  encryptionKey: string | undefined;
  /** HS256 key for login tokens; generated in dataDir when unset. Nodes sharing one database must share it. */
  jwtSecret: string | undefined;
  /** TLS (CONTRACT §10): PEM certificate chain and key files, re-read on SIGHUP */
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** without cert files, a self-signed certificate generated into the data dir (development) */
  tlsSelfSigned: boolean;
  /** SIP over TLS and HTTPS (with WSS), served when a certificate is configured */
  sipTlsPort: number;
  httpsPort: number;
  /** CONTRACT §14: failed digest answers from one source within the window that ban it */
  sipBanFailures: number;
  sipBanWindowS: number;
  sipBanTimeS: number;
  /** sources never banned (CIDR list) */
  sipTrustedSources: string[];
  /** SIPEXT_MAX_CONNECTIONS_PER_SOURCE: SIP and HTTP connections one source address may hold */
  maxConnectionsPerSource: number;
  /**
   * SIPEXT_TRUST_PROXY: reverse proxies whose X-Forwarded-For is believed (CONTRACT §14), as
   * addresses and CIDR blocks. Empty: the client address is always the peer's.
   */
  trustProxy: string[];
  /** HTTP (CONTRACT §14): the headers within 10 s, the whole request within 30 s; idle keep-alive */
  httpHeadersTimeoutMs: number;
  httpRequestTimeoutMs: number;
  httpKeepAliveTimeoutMs: number;
  /** event-loop lag (ms) past which new SIP requests get 503 (overload) */
  sipOverloadLagMs: number;
  /** event-loop utilisation (%) past which new SIP requests get 503 (overload); 100: never */
  sipOverloadUtilization: number;
  /** the event outbox (CONTRACT §11); false: no events, no SSE, no webhooks */
  events: boolean;
  /** webhook targets on loopback, private or link-local addresses allowed (tests) */
  webhookAllowPrivate: boolean;
  /** SIPEXT_WORKERS (CONTRACT §15): processes sharing this machine's ports; 1 = no cluster */
  workers: number;
  /** CONTRACT §17: API requests per second per source address / per customer (bursts of 2×); 0 = off */
  rateLimitIp: number;
  rateLimitCustomer: number;
}

/** CONTRACT §14's default of SIPEXT_MAX_CONNECTIONS_PER_SOURCE. */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 100;
/** CONTRACT §14: HTTP headers within 10 s, the whole request within 30 s. */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000;
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;
/**
 * Longer than the 60 s idle timeout of common reverse proxies and load balancers (nginx upstream
 * keep-alive, AWS ALB), so a proxy never sends a request on a connection sipext is closing.
 */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** True when TLS (SIP over TLS, HTTPS, WSS) is to be served. */
export const tlsEnabled = (c: Pick<Config, "tlsCertFile" | "tlsSelfSigned">): boolean =>
  c.tlsCertFile !== undefined || c.tlsSelfSigned;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
// A DNS name: labels of letters, digits and hyphens, separated by dots.
const DOMAIN_RE =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const USERNAME_RE = /^[A-Za-z0-9._@+-]{1,64}$/;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === "" ? fallback : v;
}

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    throw new ConfigError(name, `must be a port number from 0 to 65535, got "${raw}"`);
  }
  return Number(raw);
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = raw.toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function domain(env: Env, name: string, fallback: string): string {
  const v = str(env, name, fallback).toLowerCase();
  if (!DOMAIN_RE.test(v)) throw new ConfigError(name, `must be a DNS domain name, got "${v}"`);
  return v;
}

function host(env: Env, name: string, fallback: string): string {
  const v = str(env, name, fallback);
  if (!/^[A-Za-z0-9.:-]+$/.test(v))
    throw new ConfigError(name, `must be an IP address or host name, got "${v}"`);
  return v;
}

function seconds(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,7}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number of seconds from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

function whole(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

/** A comma-separated list of addresses and CIDR blocks (`203.0.113.0/24`, `2001:db8::/32`). */
export function cidrList(env: Env, name: string): string[] {
  const raw = env[name] ?? "";
  const list = raw
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
  for (const item of list) {
    if (!addressBlocks([item]))
      throw new ConfigError(name, `must be a list of IP addresses or CIDR blocks, got "${item}"`);
  }
  return list;
}

/** The BlockList of addresses and CIDR blocks; undefined when one of them is not one. */
export function addressBlocks(list: readonly string[]): BlockList | undefined {
  const blocks = new BlockList();
  for (const item of list) {
    const [address = "", bits, extra] = item.split("/");
    const family = isIP(address);
    if (family === 0 || extra !== undefined) return undefined;
    const type = family === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) blocks.addAddress(address, type);
    else {
      const prefix = Number(bits);
      if (!/^\d{1,3}$/.test(bits) || prefix > (family === 6 ? 128 : 32)) return undefined;
      blocks.addSubnet(address, prefix, type);
    }
  }
  return blocks;
}

/**
 * SIPEXT_SIP_ADVERTISED_HOST, else SIPEXT_SIP_HOST when it names one address, else this
 * machine's first non-internal IPv4 address (127.0.0.1 when it has none).
 */
function advertisedHost(env: Env, sipHost: string): string {
  const given = env.SIPEXT_SIP_ADVERTISED_HOST;
  if (given !== undefined && given !== "") {
    if (!/^[A-Za-z0-9.:-]+$/.test(given)) {
      throw new ConfigError(
        "SIPEXT_SIP_ADVERTISED_HOST",
        `must be an IP address or host name, got "${given}"`,
      );
    }
    return given.toLowerCase();
  }
  if (sipHost !== "0.0.0.0" && sipHost !== "::") return sipHost;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

/**
 * Every host a SIP request may name this server by: the advertised host, and the address SIP
 * listens on — every address of the machine when it listens on all of them (CONTRACT §9).
 */
export function sipSelfHosts(config: Pick<Config, "sipHost" | "sipAdvertisedHost">): string[] {
  const hosts = new Set([config.sipAdvertisedHost, "localhost"]);
  const wildcard = config.sipHost === "0.0.0.0" || config.sipHost === "::";
  if (!wildcard) hosts.add(config.sipHost.toLowerCase());
  else
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? [])
        if (config.sipHost === "::" || a.family === "IPv4") hosts.add(a.address.toLowerCase());
  return [...hosts];
}

export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = env.DATABASE_URL === "" ? undefined : env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("DATABASE_URL", "must start with postgres:// or postgresql://");
  }
  if (databaseUrl !== undefined && !URL.canParse(databaseUrl)) {
    throw new ConfigError("DATABASE_URL", "is not a valid URL");
  }
  const logLevel = str(env, "SIPEXT_LOG_LEVEL", "info");
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError("SIPEXT_LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }
  const logFormat = str(env, "SIPEXT_LOG_FORMAT", "json");
  if (logFormat !== "json" && logFormat !== "pretty") {
    throw new ConfigError("SIPEXT_LOG_FORMAT", `must be "json" or "pretty", got "${logFormat}"`);
  }
  const metricsToken = env.SIPEXT_METRICS_TOKEN === "" ? undefined : env.SIPEXT_METRICS_TOKEN;
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
    throw new ConfigError("SIPEXT_METRICS_TOKEN", "must be at least 16 characters, without spaces");
  }
  const adminUsername = str(env, "SIPEXT_ADMIN_USERNAME", "admin");
  if (!USERNAME_RE.test(adminUsername)) {
    throw new ConfigError("SIPEXT_ADMIN_USERNAME", "must be 1-64 characters from A-Z a-z 0-9 . _ @ + -");
  }
  const adminPassword = env.SIPEXT_ADMIN_PASSWORD === "" ? undefined : env.SIPEXT_ADMIN_PASSWORD;
  if (adminPassword !== undefined && (adminPassword.length < 8 || adminPassword.length > 256)) {
    throw new ConfigError("SIPEXT_ADMIN_PASSWORD", "must be 8 to 256 characters");
  }
  const encryptionKey = env.SIPEXT_ENCRYPTION_KEY === "" ? undefined : env.SIPEXT_ENCRYPTION_KEY;
  if (encryptionKey !== undefined && decodeKey(encryptionKey) === undefined) {
    throw new ConfigError("SIPEXT_ENCRYPTION_KEY", "must be 32 bytes, as 64 hex characters or base64");
  }
  const jwtSecret = env.SIPEXT_JWT_SECRET === "" ? undefined : env.SIPEXT_JWT_SECRET;
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError("SIPEXT_JWT_SECRET", "must be at least 32 characters");
  }
  const tlsCertFile = env.SIPEXT_TLS_CERT_FILE === "" ? undefined : env.SIPEXT_TLS_CERT_FILE;
  const tlsKeyFile = env.SIPEXT_TLS_KEY_FILE === "" ? undefined : env.SIPEXT_TLS_KEY_FILE;
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    const missing = tlsCertFile === undefined ? "SIPEXT_TLS_CERT_FILE" : "SIPEXT_TLS_KEY_FILE";
    throw new ConfigError(
      missing,
      "must be set together with the other of SIPEXT_TLS_CERT_FILE/SIPEXT_TLS_KEY_FILE",
    );
  }
  const workers = workerCount(env);
  if (workers > 1 && databaseUrl === undefined) {
    throw new ConfigError(
      "SIPEXT_WORKERS",
      `is ${workers}, but workers share their state through PostgreSQL: set DATABASE_URL (the embedded SQLite database has one writer), or leave SIPEXT_WORKERS unset`,
    );
  }
  return {
    dataDir: str(env, "SIPEXT_DATA_DIR", "./data"),
    databaseUrl,
    httpHost: host(env, "SIPEXT_HTTP_HOST", "0.0.0.0"),
    httpPort: port(env, "SIPEXT_HTTP_PORT", 8080),
    sipHost: host(env, "SIPEXT_SIP_HOST", "0.0.0.0"),
    sipPort: port(env, "SIPEXT_SIP_PORT", 5060),
    sipAdvertisedHost: advertisedHost(env, host(env, "SIPEXT_SIP_HOST", "0.0.0.0")),
    ringTimeoutS: seconds(env, "SIPEXT_RING_TIMEOUT", 180, 1, 3600),
    digestSha256: bool(env, "SIPEXT_SIP_DIGEST_SHA256", false),
    registrarDomain: domain(env, "SIPEXT_REGISTRAR_DOMAIN", "registrar.localhost"),
    directDomain: domain(env, "SIPEXT_DIRECT_DOMAIN", "sip.localhost"),
    adminUsername,
    adminPassword,
    showPasswords: bool(env, "SIPEXT_SHOW_PASSWORDS", true),
    logLevel,
    logFormat,
    metricsToken,
    encryptionKey,
    jwtSecret,
    tlsCertFile,
    tlsKeyFile,
    tlsSelfSigned: bool(env, "SIPEXT_TLS_SELF_SIGNED", false),
    sipTlsPort: port(env, "SIPEXT_SIP_TLS_PORT", 5061),
    httpsPort: port(env, "SIPEXT_HTTPS_PORT", 8443),
    sipBanFailures: whole(env, "SIPEXT_SIP_BAN_FAILURES", 10, 1, 1_000_000),
    sipBanWindowS: seconds(env, "SIPEXT_SIP_BAN_WINDOW", 60, 1, 86_400),
    sipBanTimeS: seconds(env, "SIPEXT_SIP_BAN_TIME", 900, 1, 30 * 86_400),
    sipTrustedSources: cidrList(env, "SIPEXT_SIP_TRUSTED_SOURCES"),
    maxConnectionsPerSource: whole(
      env,
      "SIPEXT_MAX_CONNECTIONS_PER_SOURCE",
      DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
      1,
      1_000_000,
    ),
    trustProxy: cidrList(env, "SIPEXT_TRUST_PROXY"),
    httpHeadersTimeoutMs: HTTP_HEADERS_TIMEOUT_MS,
    httpRequestTimeoutMs: HTTP_REQUEST_TIMEOUT_MS,
    httpKeepAliveTimeoutMs: HTTP_KEEP_ALIVE_TIMEOUT_MS,
    sipOverloadLagMs: whole(env, "SIPEXT_SIP_OVERLOAD_LAG_MS", 200, 10, 60_000),
    sipOverloadUtilization: whole(env, "SIPEXT_SIP_OVERLOAD_UTILIZATION", 100, 50, 100),
    events: bool(env, "SIPEXT_EVENTS", true),
    webhookAllowPrivate: bool(env, "SIPEXT_WEBHOOK_ALLOW_PRIVATE", false),
    workers,
    rateLimitIp: whole(env, "SIPEXT_RATE_LIMIT_IP", 200, 0, 1_000_000),
    rateLimitCustomer: whole(env, "SIPEXT_RATE_LIMIT_CUSTOMER", 50, 0, 1_000_000),
  };
}

/** SIPEXT_WORKERS: a number from 1 to 64, or `auto` (one per core). */
function workerCount(env: Env): number {
  const raw = env.SIPEXT_WORKERS;
  if (raw === undefined || raw === "") return 1;
  if (raw === "auto") return Math.min(64, availableParallelism());
  if (!/^\d{1,2}$/.test(raw) || Number(raw) < 1 || Number(raw) > 64)
    throw new ConfigError("SIPEXT_WORKERS", `must be a whole number from 1 to 64 or "auto", got "${raw}"`);
  return Number(raw);
}

/** A 32-byte key given as 64 hex characters or as base64/base64url; undefined when it is neither. */
export function decodeKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex");
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (b.length === 32) return b;
  }
  return undefined;
}
