// Opens the database: embedded SQLite in the data dir by default, PostgreSQL when DATABASE_URL
// is set. Both run the same Kysely migrations at start-up.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import {
  type DatabaseIntrospector,
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
} from "kysely";
import pg from "pg";
import { ensurePrivateDir, ensurePrivateFile, tightenFile } from "../util/private-files.js";
import { type Checkpointer, startCheckpointer } from "./checkpointer.js";
import * as m001 from "./migrations/001-initial.js";
import * as m002 from "./migrations/002-bindings.js";
import * as m003 from "./migrations/003-binding-routing.js";
import * as m004 from "./migrations/004-sip-bans.js";
import * as m005 from "./migrations/005-events.js";
import * as m006 from "./migrations/006-binding-nodes.js";
import * as m007 from "./migrations/007-user-token-version.js";
import * as m008 from "./migrations/008-provisioning-audit.js";
import * as m009 from "./migrations/009-extension-change-notify.js";
import * as m010 from "./migrations/010-calls-answered-index.js";
import * as m011 from "./migrations/011-calls-lean-indexes.js";
import type { Database } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** For SQLite: the file path (tests look inside it). */
  sqlitePath?: string;
  /**
   * For SQLite: `PRAGMA data_version`, which changes whenever another connection (another
   * process: the CLI) has committed since this one last looked. Caches of rows others may write
   * check it.
   */
  dataVersion?: () => number;
  close(): Promise<void>;
}

const migrations: Record<string, Migration> = {
  "001-initial": m001,
  "002-bindings": m002,
  "003-binding-routing": m003,
  "004-sip-bans": m004,
  "005-events": m005,
  "006-binding-nodes": m006,
  "007-user-token-version": m007,
  "008-provisioning-audit": m008,
  "009-extension-change-notify": m009,
  "010-calls-answered-index": m010,
  "011-calls-lean-indexes": m011,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export interface OpenOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** SQLite: WAL checkpoints on a worker thread instead of inside commits (the server). */
  checkpointInBackground?: boolean;
}

export async function openDatabase(opts: OpenOptions): Promise<Db> {
  const db = opts.databaseUrl
    ? await openPostgres(opts.databaseUrl)
    : openSqlite(opts.dataDir, opts.checkpointInBackground ?? false);
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

const SQLITE_FILE = "sipext.sqlite";

/** The database file and its -wal, -shm and -journal companions, made owner-only (CONTRACT §14). */
function tightenSqliteFiles(dataDir: string): void {
  for (const f of readdirSync(dataDir)) if (f.startsWith(SQLITE_FILE)) tightenFile(join(dataDir, f));
}

function openSqlite(dataDir: string, checkpointInBackground: boolean): Db {
  ensurePrivateDir(dataDir);
  const path = join(dataDir, SQLITE_FILE);
  // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files it creates the
  // database file's mode.
  ensurePrivateFile(path);
  tightenSqliteFiles(dataDir);
  const sqlite = new SQLite(path);
  // WAL lets readers go on while one writer commits; busy_timeout rides out a second process (the CLI).
  sqlite.pragma("journal_mode = WAL");
  tightenSqliteFiles(dataDir);
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  const kysely = new Kysely<Database>({
    dialect: new SqliteDialect({ database: cachingStatements(sqlite) }),
  });
  const dataVersion = sqlite.prepare("PRAGMA data_version").pluck();
  let checkpointer: Checkpointer | undefined;
  if (checkpointInBackground) {
    sqlite.pragma("wal_autocheckpoint = 0");
    checkpointer = startCheckpointer(path, () => {
      if (sqlite.open) sqlite.pragma("wal_autocheckpoint = 1000");
    });
  }
  return {
    kysely,
    dialect: "sqlite",
    sqlitePath: path,
    dataVersion: () => dataVersion.get() as number,
    close: async () => {
      await kysely.destroy();
      await checkpointer?.stop();
    },
  };
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
 * Kysely's PostgreSQL introspector, which the migrator asks whether its tables exist, reads the
 * tables of every schema in the database and fails ("schema … does not exist") when another
 * deployment or test run drops its schema meanwhile. The migrator only needs this one's.
 */
class OwnSchemaPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    const all = super.createIntrospector(db);
    const getTables = async () => {
      const r = await sql<{ name: string; schema: string; kind: string }>`
        SELECT c.relname AS name, n.nspname AS schema, c.relkind AS kind
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')`.execute(db);
      return r.rows.map((t) => ({ name: t.name, schema: t.schema, isView: t.kind === "v", columns: [] }));
    };
    return {
      getSchemas: () => all.getSchemas(),
      getTables,
      getMetadata: async () => ({ tables: await getTables() }),
    };
  }
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
  const kysely = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool }) });
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

/**
 * Whether the database answers a read of sipext's own tables within `timeoutMs` (CONTRACT §12's
 * readiness): a dropped schema, a closed pool or an unreachable server all answer false.
 */
export async function databaseAnswers(db: Db, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const read = db.kysely
    .selectFrom("customers")
    .select("id")
    .limit(1)
    .execute()
    .then(
      () => true,
      () => false,
    );
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}
