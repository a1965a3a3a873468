// The certificate of SIP over TLS, HTTPS and WSS (CONTRACT §10): the PEM files an operator gives
// (SIPEXT_TLS_CERT_FILE / SIPEXT_TLS_KEY_FILE, re-read on SIGHUP so a renewed Let's Encrypt
// certificate needs no restart), or, for development (SIPEXT_TLS_SELF_SIGNED=true), a
// self-signed one generated once into the data dir by the `selfsigned` library.
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import type { SecureContextOptions } from "node:tls";
import { generate } from "selfsigned";
import { ensurePrivateDir, tightenFile } from "./util/private-files.js";

export interface TlsCertificate {
  /** what node:tls and node:https take */
  secure: SecureContextOptions;
  /** the certificate (the first of the chain), PEM */
  certPem: string;
  /** its SHA-256 fingerprint, as openssl and browsers show it (AA:BB:...) */
  fingerprint: string;
}

export interface TlsSource {
  certFile: string | undefined;
  keyFile: string | undefined;
  selfSigned: boolean;
  dataDir: string;
  /** the host the self-signed certificate is for (its CN and subjectAltName) */
  host: string;
}

function fromPem(certPem: string, keyPem: string): TlsCertificate {
  const fingerprint = new X509Certificate(certPem).fingerprint256;
  return { secure: { cert: certPem, key: keyPem }, certPem, fingerprint };
}

/** Reads the operator's files, or the self-signed certificate (made on the first start). */
export async function loadTlsCertificate(s: TlsSource): Promise<TlsCertificate> {
  if (s.certFile && s.keyFile)
    return fromPem(readFileSync(s.certFile, "utf8"), readFileSync(s.keyFile, "utf8"));
  const certFile = join(s.dataDir, "tls-self-signed.crt");
  const keyFile = join(s.dataDir, "tls-self-signed.key");
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [
      { type: 2, value: "localhost" },
      { type: 7, ip: "127.0.0.1" },
      isIP(s.host) ? { type: 7, ip: s.host } : { type: 2, value: s.host },
    ];
    const pems = await generate([{ name: "commonName", value: s.host }], {
      keyType: "ec",
      curve: "P-256",
      algorithm: "sha256",
      notAfterDate: new Date(Date.now() + 825 * 86_400_000),
      extensions: [
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames },
      ],
    });
    ensurePrivateDir(s.dataDir);
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    writeFileSync(certFile, pems.cert, { mode: 0o644 });
  }
  tightenFile(keyFile);
  return fromPem(readFileSync(certFile, "utf8"), readFileSync(keyFile, "utf8"));
}
