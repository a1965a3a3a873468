// Typed configuration, read once from the environment (CONTRACT §2) and passed down.
// Services never read process.env themselves.
import { networkInterfaces } from "node:os";

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
  /** 32-byte key (base64 or hex) for extension passwords at rest; generated in dataDir when unset. */
  encryptionKey: string | undefined;
  /** HS256 key for login tokens; generated in dataDir when unset. Nodes sharing one database must share it. */
  jwtSecret: string | undefined;
}

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
    encryptionKey,
    jwtSecret,
  };
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
