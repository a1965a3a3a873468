// Opens the database: embedded SQLite in the data dir by default, PostgreSQL when DATABASE_URL
// is set. Both run the same Kysely migrations at start-up.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import {
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
} from "kysely";
import pg from "pg";
import * as m001 from "./migrations/001-initial.js";
import * as m002 from "./migrations/002-bindings.js";
import type { Database } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** For SQLite: the file path (tests look inside it). */
  sqlitePath?: string;
  close(): Promise<void>;
}

const migrations: Record<string, Migration> = { "001-initial": m001, "002-bindings": m002 };

const provider: MigrationProvider = { getMigrations: async () => migrations };

export interface OpenOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
}

export async function openDatabase(opts: OpenOptions): Promise<Db> {
  const db = opts.databaseUrl ? await openPostgres(opts.databaseUrl) : openSqlite(opts.dataDir);
  // Kysely looks for its migration tables in every schema of the database unless told which one:
  // with another deployment (or test run) in a sibling schema it would find theirs, skip creating
  // its own and fail. So name the schema the tables go to: the first one on the search_path.
  let migrationTableSchema: string | undefined;
  if (db.dialect === "postgres") {
    const r = await sql<{ s: string | null }>`SELECT current_schema() AS s`.execute(db.kysely);
    migrationTableSchema = r.rows[0]?.s ?? undefined;
  }
  const { error, results } = await new Migrator({
    db: db.kysely,
    provider,
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  }).migrateToLatest();
  if (error) {
    await db.close();
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`database migration ${failed} failed: ${(error as Error).message ?? String(error)}`);
  }
  return db;
}

function openSqlite(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, "sipext.sqlite");
  const sqlite = new SQLite(path);
  // WAL lets readers go on while one writer commits; busy_timeout rides out a second process (the CLI).
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  const kysely = new Kysely<Database>({
    dialect: new SqliteDialect({ database: cachingStatements(sqlite) }),
  });
  return { kysely, dialect: "sqlite", sqlitePath: path, close: () => kysely.destroy() };
}

const MAX_CACHED_STATEMENTS = 500;

/**
 * Kysely's SQLite driver prepares every query anew, which costs more than running it (a third of
 * a GET /v1.0/extensions/{id}). Statements are kept by SQL text instead: safe because the driver
 * runs one query at a time on this connection, and SQLite re-prepares a statement by itself
 * after a schema change.
 */
function cachingStatements(sqlite: SQLite.Database) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string): SQLite.Statement {
      let stmt = cache.get(text);
      if (!stmt) {
        stmt = sqlite.prepare(text);
        if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
        cache.set(text, stmt);
      }
      return stmt;
    },
  };
}

/**
 * `?schema=NAME` in DATABASE_URL keeps sipext's tables in that PostgreSQL schema (created if
 * missing): several deployments, or parallel test runs, can share one database.
 */
async function openPostgres(url: string): Promise<Db> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema");
  parsed.searchParams.delete("schema");
  if (schema !== null && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`DATABASE_URL: schema "${schema}" must be a plain SQL identifier`);
  }
  const pool = new pg.Pool({
    connectionString: parsed.toString(),
    max: 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`SELECT 1`.execute(kysely);
  } catch (err) {
    // "connect ECONNREFUSED 127.0.0.1:5432" alone does not say which setting to fix.
    await kysely.destroy();
    throw new Error(`DATABASE_URL: cannot reach PostgreSQL: ${(err as Error).message}`);
  }
  if (schema) await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(kysely);
  return { kysely, dialect: "postgres", close: () => kysely.destroy() };
}

/**
 * The name of the unique index or the columns a write collided on, or undefined when the error
 * is not a unique violation. SQLite names columns ("extensions.customer_id, extensions.extension"),
 * PostgreSQL names the constraint.
 */
export function uniqueViolation(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: string; constraint?: string; message?: string };
  if (e.code === "23505") return e.constraint ?? "";
  if (e.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    return e.message?.replace(/^UNIQUE constraint failed: /, "") ?? "";
  }
  return undefined;
}
