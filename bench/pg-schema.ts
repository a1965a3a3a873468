// A fresh PostgreSQL schema for a benchmark's sipext (CONTRACT §15: workers and nodes share their
// state through PostgreSQL), dropped after: `?schema=NAME` of DATABASE_URL keeps sipext's tables
// there (src/store/db.ts creates it). The database is the test one of the machine unless
// SIPEXT_BENCH_DATABASE_URL names another.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { processTicks, sh } from "./proc.js";

export const PG_URL = process.env.SIPEXT_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** DATABASE_URL of a new, not yet created schema `bench_<label>_<random>`. */
export function newSchemaUrl(label: string): string {
  const u = new URL(PG_URL);
  const name = `bench_${label.replace(/[^A-Za-z0-9_]/g, "_")}_${randomBytes(4).toString("hex")}`;
  u.searchParams.set("schema", name);
  return u.toString();
}

/** The schema of a newSchemaUrl, for the record. */
export const schemaOf = (url: string) => new URL(url).searchParams.get("schema") ?? "public";

/** Drops the schema of `url` and everything in it (never `public`). */
export async function dropSchema(url: string): Promise<void> {
  const schema = new URL(url).searchParams.get("schema");
  if (!schema || schema === "public" || !/^bench_[A-Za-z0-9_]+$/.test(schema)) return;
  const u = new URL(url);
  u.searchParams.delete("schema");
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** The PostgreSQL server's version, for the record ("PostgreSQL 15.x"). */
export async function pgVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const r = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return `PostgreSQL ${r.rows[0]?.v ?? "?"}`;
  } finally {
    await client.end();
  }
}

/**
 * Empties `tables` of the schema of `url` (what a ramp leaves behind: bindings, events, bans), so
 * that the next ramp starts from the seed alone.
 */
export async function emptyTables(url: string, tables: string[]): Promise<void> {
  const schema = schemaOf(url);
  const u = new URL(url);
  u.searchParams.delete("schema");
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    const names = tables.map((t) => `"${schema}"."${t}"`).join(", ");
    await client.query(`TRUNCATE ${names}`);
  } finally {
    await client.end();
  }
}

/**
 * The PostgreSQL backends serving the processes `pids` (matched by their connections' client
 * ports, from `ss -tnp`): their CPU is sipext's database work, not other sessions' (the server is
 * shared with other runs).
 */
export async function backendsOf(pids: number[]): Promise<number[]> {
  const ports = sh("ss", ["-Htnp"])
    .split("\n")
    .filter((l) => pids.some((p) => l.includes(`pid=${p},`)))
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[4]?.endsWith(":5432"))
    .map((f) => Number(f[3]?.slice(f[3].lastIndexOf(":") + 1)));
  if (ports.length === 0) return [];
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const r = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])",
      [ports],
    );
    return r.rows.map((x) => x.pid);
  } finally {
    await client.end();
  }
}

/** CPU ticks of the backends, summed (a backend gone counts 0). */
export const backendTicks = (backends: number[]) => backends.reduce((t, p) => t + (processTicks(p) ?? 0), 0);
