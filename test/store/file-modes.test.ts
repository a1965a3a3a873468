// CONTRACT §14 "Files": the data dir is 0700; the SQLite files (with their -wal and -shm) and the
// keys are 0600, as created, and again at the next start when something loosened them.
import { chmodSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DATABASES,
  dropSchema,
  type Harness,
  newSchemaUrl,
  removeDir,
  startHarness,
} from "../helpers/harness.js";

const TLS_ENV = { SIPEXT_TLS_SELF_SIGNED: "true", SIPEXT_SIP_TLS_PORT: "0", SIPEXT_HTTPS_PORT: "0" };

const mode = (path: string) => statSync(path).mode & 0o777;

/** Every file of the data dir that must be owner-only, by name. */
const privateFiles = (dir: string) =>
  readdirSync(dir).filter((f) => f.startsWith("sipext.sqlite") || f.endsWith(".key"));

describe.each(DATABASES)("data dir and file modes on %s", (kind) => {
  let parent: string;
  let dataDir: string;
  let databaseUrl: string | undefined;
  let h: Harness | undefined;

  const start = async () => {
    h = await startHarness(kind, { dataDir, env: TLS_ENV, ...(databaseUrl ? { databaseUrl } : {}) });
    // Something written, so that SQLite has its -wal and -shm files.
    await h.server.core.services.tenants.createTenant({ name: "modes" });
  };

  beforeAll(() => {
    parent = mkdtempSync(join(tmpdir(), "sipext-modes-"));
    chmodSync(parent, 0o755);
    dataDir = join(parent, "data");
    databaseUrl = kind === "postgres" ? newSchemaUrl() : undefined;
  });
  afterAll(async () => {
    await h?.close();
    await dropSchema(databaseUrl);
    removeDir(parent);
  });

  it("creates the data dir 0700 and the database and key files 0600", async () => {
    await start();
    expect(mode(dataDir)).toBe(0o700);
    const expected = ["encryption.key", "jwt.key", "tls-self-signed.key"];
    if (kind === "sqlite") expected.push("sipext.sqlite", "sipext.sqlite-shm", "sipext.sqlite-wal");
    expect(privateFiles(dataDir).sort()).toEqual(expected.sort());
    for (const f of privateFiles(dataDir)) expect(mode(join(dataDir, f)), f).toBe(0o600);
  });

  it("tightens a data dir and files left looser, at the next start", async () => {
    await h?.close();
    chmodSync(dataDir, 0o755);
    for (const f of privateFiles(dataDir)) chmodSync(join(dataDir, f), 0o644);
    expect(mode(join(dataDir, "jwt.key"))).toBe(0o644);
    await start();
    expect(mode(dataDir)).toBe(0o700);
    for (const f of privateFiles(dataDir)) expect(mode(join(dataDir, f)), f).toBe(0o600);
  });
});
