// Everything secret in one place: keys at rest, sealing, hashing, random tokens.
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import argon2 from "argon2";
import { decodeKey } from "../config.js";
import { ensurePrivateDir, tightenFile } from "../util/private-files.js";

/**
 * Returns the configured key, or the one kept in `dataDir/name`, creating it (mode 0600) on
 * first use and tightening an existing one to 0600. Nodes sharing one PostgreSQL database must
 * share these keys.
 */
export function loadOrCreateKey(dataDir: string, name: string, configured: string | undefined): Buffer {
  if (configured !== undefined) {
    return decodeKey(configured) ?? createHash("sha256").update(configured).digest();
  }
  ensurePrivateDir(dataDir);
  const path = join(dataDir, name);
  if (existsSync(path)) {
    tightenFile(path);
    const key = decodeKey(readFileSync(path, "utf8"));
    if (!key) throw new Error(`${path}: not a 32-byte key (64 hex characters)`);
    return key;
  }
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return key;
}

export interface Sealer {
  seal(plain: string): string;
  open(sealed: string): string;
}

/** AES-256-GCM with a fresh 96-bit IV per value: "v1." + base64url(iv | tag | ciphertext). */
export function aesGcmSealer(key: Buffer): Sealer {
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", key, iv);
      const ct = Buffer.concat([c.update(plain, "utf8"), c.final()]);
      return `v1.${Buffer.concat([iv, c.getAuthTag(), ct]).toString("base64url")}`;
    },
    open(sealed) {
      const raw = Buffer.from(sealed.slice(3), "base64url");
      const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8");
    },
  };
}

/** Sealed values whose plaintext is remembered (a few hundred bytes each). */
export const OPENED_CACHE_SIZE = 16_384;

/**
 * Remembers what `open` returned. Opening costs a new AES-GCM context (most of a GET
 * /v1.0/extensions/{id} when passwords are shown); a sealed value has a fresh IV, so it always
 * opens to the same plaintext and an entry never goes stale. The plaintext stays in this
 * process's memory only, where the key that opens every value already is; nothing is written.
 */
export function rememberingSealer(inner: Sealer, max: number = OPENED_CACHE_SIZE): Sealer {
  const opened = new Map<string, string>();
  return {
    seal: (plain) => inner.seal(plain),
    open(sealed) {
      let plain = opened.get(sealed);
      if (plain === undefined) {
        plain = inner.open(sealed);
        if (opened.size >= max) {
          const first = opened.keys().next().value;
          if (first !== undefined) opened.delete(first);
        }
        opened.set(sealed, plain);
      }
      return plain;
    },
  };
}

export const sha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");
export const md5Hex = (text: string) => createHash("md5").update(text).digest("hex");

/** The digest HA1 values (RFC 7616 §3.4.2) for `username:realm:password`. */
export function digestHa1(username: string, realm: string, password: string) {
  const a1 = `${username}:${realm}:${password}`;
  return { md5: md5Hex(a1), sha256: sha256Hex(a1) };
}

/** Constant-time equality of two strings (false at once when lengths differ, which is public). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

// OWASP's argon2id baseline (19 MiB, 2 passes); logins are rare, requests use tokens.
const ARGON2 = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string) => argon2.hash(password, ARGON2);

/** A hash of nothing anyone knows: verifying against it costs what a real check costs. */
let decoy: Promise<string> | undefined;

/** Checks a password against a stored argon2id hash; with no hash, spends the same time and fails. */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  if (stored === undefined) {
    decoy ??= argon2.hash(randomBytes(16).toString("hex"), ARGON2);
    await argon2.verify(await decoy, password).catch(() => false);
    return false;
  }
  return argon2.verify(stored, password).catch(() => false);
}

/** 32 random bytes as base64url (43 characters). */
export const randomSecret = (bytes = 32) => randomBytes(bytes).toString("base64url");

/** A generated SIP password: 24 base64url characters (144 bits), valid under the password rule. */
export const generatePassword = () => randomBytes(18).toString("base64url");

/** 12 lowercase hex characters (48 bits) from the CSPRNG, as the seed's direct_hash. */
export const newDirectHash = () => randomBytes(6).toString("hex");
