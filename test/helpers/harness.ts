// Boots the real server (HTTP on a free port, real database) for a test suite, and keeps track
// of every secret the suite handled so that teardown can prove none is stored or logged in clear.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { type Config, loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { type Server, startServer } from "../../src/main.js";
import type { Clock } from "../../src/util/time.js";

export type DbKind = "sqlite" | "postgres";

export const PG_URL = process.env.SIPEXT_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Every suite runs on both databases unless SIPEXT_TEST_DATABASES narrows it (e.g. "sqlite"). */
export const DATABASES: DbKind[] = (process.env.SIPEXT_TEST_DATABASES ?? "sqlite,postgres")
  .split(",")
  .map((s) => s.trim())
  .filter((s): s is DbKind => s === "sqlite" || s === "postgres");

export interface Harness {
  kind: DbKind;
  url: string;
  server: Server;
  config: Config;
  dataDir: string;
  /** The PostgreSQL URL with this suite's own schema, when kind is postgres. */
  databaseUrl: string | undefined;
  logs: () => string;
  admin: { username: string; password: string; customerId: string; domainName: string; token: string };
  /** Remember a secret (password, token) that must never be found stored or logged in clear. */
  secret(value: string): string;
  close(): Promise<void>;
  /** Fails when a remembered secret is in the database files/tables or in the logs. */
  assertNoPlaintextSecrets(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  clock?: Clock;
  /** Reuse this data dir / schema (a restart); by default a fresh one. */
  dataDir?: string;
  databaseUrl?: string;
  /** Settings with no variable (the HTTP deadlines), over what the environment gave. */
  config?: Partial<Config>;
}

export function newSchemaUrl(): string {
  const u = new URL(PG_URL);
  u.searchParams.set("schema", `t_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`);
  return u.toString();
}

export async function startHarness(kind: DbKind, opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "sipext-test-"));
  const databaseUrl = kind === "postgres" ? (opts.databaseUrl ?? newSchemaUrl()) : undefined;
  const loaded = loadConfig({
    SIPEXT_DATA_DIR: dataDir,
    SIPEXT_HTTP_HOST: "127.0.0.1",
    SIPEXT_HTTP_PORT: "0",
    SIPEXT_SIP_HOST: "127.0.0.1",
    SIPEXT_SIP_PORT: "0",
    SIPEXT_LOG_LEVEL: "debug",
    // Tests send wrong passwords from 127.0.0.1 on purpose; attacks come from 127.0.0.2 and up
    // (test/e2e/protection.test.ts), so this machine's own address is never banned.
    SIPEXT_SIP_TRUSTED_SOURCES: "127.0.0.1",
    // Suites send hundreds of requests a second from 127.0.0.1; the API rate limits (CONTRACT §17)
    // are off unless a suite sets them (test/api/rate-limits.test.ts).
    SIPEXT_RATE_LIMIT_IP: "0",
    SIPEXT_RATE_LIMIT_CUSTOMER: "0",
    SIPEXT_ADMIN_PASSWORD: `admin-${randomBytes(8).toString("hex")}`,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  });
  const config: Config = { ...loaded, ...opts.config };
  let logText = "";
  const sink = new Writable({
    write(chunk, _enc, done) {
      logText += chunk.toString();
      done();
    },
  });
  const server = await startServer(config, createLogger("debug", sink), opts.clock);
  const url = `http://127.0.0.1:${server.httpPort}`;
  const secrets = new Set<string>();
  const secret = (v: string) => {
    if (v) secrets.add(v);
    return v;
  };
  let admin = { username: "", password: "", customerId: "", domainName: "", token: "" };
  if (server.firstRun) {
    const res = await fetch(`${url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: server.firstRun.username, password: server.firstRun.password }),
    });
    const body = (await res.json()) as { token: string };
    admin = { ...server.firstRun, token: body.token };
    secret(admin.password);
    secret(admin.token);
  }
  let closed = false;
  const h: Harness = {
    kind,
    url,
    server,
    config,
    dataDir,
    databaseUrl,
    logs: () => logText,
    admin,
    secret,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
    },
    async assertNoPlaintextSecrets() {
      const haystacks: Array<[string, string]> = [["logs", logText]];
      if (kind === "sqlite") {
        for (const f of readdirSync(dataDir)) {
          if (f.startsWith("sipext.sqlite"))
            haystacks.push([f, readFileSync(join(dataDir, f)).toString("latin1")]);
        }
      } else if (databaseUrl) {
        haystacks.push(["postgres", await dumpPostgres(databaseUrl)]);
      }
      for (const s of secrets) {
        for (const [where, text] of haystacks) {
          if (text.includes(s))
            throw new Error(`a secret (${s.slice(0, 4)}…) was found in clear in ${where}`);
        }
      }
    },
  };
  return h;
}

/** Every row of every table of the suite's schema, as text. */
async function dumpPostgres(databaseUrl: string): Promise<string> {
  const u = new URL(databaseUrl);
  const schema = u.searchParams.get("schema") ?? "public";
  u.searchParams.delete("schema");
  const db = new Kysely<Record<string, Record<string, unknown>>>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: u.toString(), max: 1 }) }),
  });
  try {
    const tables = await sql<{ table_name: string }>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema}`.execute(db);
    let out = "";
    for (const t of tables.rows) {
      const rows = await sql`SELECT * FROM ${sql.table(`${schema}.${t.table_name}`)}`.execute(db);
      out += JSON.stringify(rows.rows);
    }
    return out;
  } finally {
    await db.destroy();
  }
}

/** Drops a test schema (after a suite on PostgreSQL). */
export async function dropSchema(databaseUrl: string | undefined): Promise<void> {
  if (!databaseUrl) return;
  const u = new URL(databaseUrl);
  const schema = u.searchParams.get("schema");
  if (!schema) return;
  u.searchParams.delete("schema");
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Cuts, from the server's side as a PostgreSQL restart would, every connection LISTENing on the
 * deployment bus of `databaseUrl`'s schema (src/deployment-bus.ts); how many were cut.
 */
export async function cutBusListeners(databaseUrl: string): Promise<number> {
  const schema = new URL(databaseUrl).searchParams.get("schema");
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    const r = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()",
      [`LISTEN sipext_${schema}`],
    );
    return r.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** After a suite: the server stopped, its PostgreSQL schema dropped, its data dir removed. */
export async function stopHarness(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.close();
  await dropSchema(h.databaseUrl);
  removeDir(h.dataDir);
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** A JSON API client bound to a base URL and a credential. */
export function client(baseUrl: string, token?: string) {
  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const h: Record<string, string> = { ...headers };
    if (token && !("authorization" in h)) h.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === "string" ? body : JSON.stringify(body);
      if (!("content-type" in h)) h["content-type"] = "application/json";
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text so the assertion shows it
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  return {
    call,
    get: <T = Record<string, unknown>>(p: string, h?: Record<string, string>) =>
      call<T>("GET", p, undefined, h),
    post: <T = Record<string, unknown>>(p: string, b?: unknown, h?: Record<string, string>) =>
      call<T>("POST", p, b, h),
    put: <T = Record<string, unknown>>(p: string, b?: unknown, h?: Record<string, string>) =>
      call<T>("PUT", p, b, h),
    del: <T = Record<string, unknown>>(p: string, h?: Record<string, string>) =>
      call<T>("DELETE", p, undefined, h),
  };
}

export type Client = ReturnType<typeof client>;
