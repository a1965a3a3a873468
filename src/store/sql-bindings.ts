// The registrar's bindings in SQL: loaded once at start, then written in batches.
import { CompiledQuery, type Kysely } from "kysely";
import type { BindingRow, BindingStore, BindingWrite } from "./ports.js";
import type { Database } from "./schema.js";

const COLUMNS = [
  "extension_id",
  "contact",
  "customer_id",
  "received_ip",
  "received_port",
  "transport",
  "user_agent",
  "call_id",
  "cseq",
  "instance_id",
  "expires",
  "tm_expire",
  "tm_create",
  "tm_update",
] as const satisfies readonly (keyof BindingRow)[];

/** A refresh rewrites every column but the key and the binding's first tm_create. */
const REFRESHED = COLUMNS.filter((c) => c !== "extension_id" && c !== "contact" && c !== "tm_create");

/**
 * Upserts go out as multi-row statements of these sizes (largest first), so that a batch of
 * registrations costs a few statements instead of one each, and only three statement texts ever
 * exist (each prepared once by the driver).
 */
const CHUNKS = [64, 8, 1] as const;

/** A value standing for column `c` of row `i` while the statement is compiled. */
const slot = (i: number, c: string) => `\u0000${i}\u0000${c}`;

interface Upsert {
  sql: string;
  /** For each parameter of `sql`: which row, which column. */
  params: [row: number, column: keyof BindingRow][];
}

export function sqlBindingStore(db: Kysely<Database>): BindingStore {
  const upserts = new Map<number, Upsert>();

  /** The n-row upsert, built and compiled by Kysely once (placeholders differ by dialect). */
  function upsertOf(n: number): Upsert {
    let u = upserts.get(n);
    if (u) return u;
    const rows = Array.from(
      { length: n },
      (_, i) => Object.fromEntries(COLUMNS.map((c) => [c, slot(i, c)])) as unknown as BindingRow,
    );
    const compiled = db
      .insertInto("bindings")
      .values(rows)
      .onConflict((oc) =>
        oc
          .columns(["extension_id", "contact"])
          .doUpdateSet((eb) => Object.fromEntries(REFRESHED.map((c) => [c, eb.ref(`excluded.${c}`)]))),
      )
      .compile();
    const params = compiled.parameters.map((p) => {
      const [, i, c] = String(p).split("\u0000");
      return [Number(i), c as keyof BindingRow] as [number, keyof BindingRow];
    });
    u = { sql: compiled.sql, params };
    upserts.set(n, u);
    return u;
  }

  /** Statements for a run of upserts: the last write of a key wins (PostgreSQL refuses a
   * statement that touches one row twice). */
  function upsertStatements(run: BindingRow[]): CompiledQuery[] {
    const last = new Map<string, BindingRow>();
    for (const r of run) {
      const key = `${r.extension_id}\u0000${r.contact}`;
      const earlier = last.get(key);
      last.delete(key);
      // As if written one by one: the first write of the key set tm_create, later ones keep it.
      last.set(key, earlier ? { ...r, tm_create: earlier.tm_create } : r);
    }
    const rows = [...last.values()];
    const out: CompiledQuery[] = [];
    let at = 0;
    for (const size of CHUNKS) {
      for (; rows.length - at >= size; at += size) {
        const u = upsertOf(size);
        out.push(
          CompiledQuery.raw(
            u.sql,
            u.params.map(([i, c]) => rows[at + i]?.[c]),
          ),
        );
      }
    }
    return out;
  }

  function statements(writes: BindingWrite[]): CompiledQuery[] {
    const out: CompiledQuery[] = [];
    let run: BindingRow[] = [];
    const endRun = () => {
      if (run.length > 0) out.push(...upsertStatements(run));
      run = [];
    };
    for (const w of writes) {
      if (w.op === "upsert") {
        run.push(w.row);
        continue;
      }
      endRun();
      const q =
        w.op === "delete"
          ? db
              .deleteFrom("bindings")
              .where("extension_id", "=", w.extensionId)
              .where("contact", "=", w.contact)
          : db.deleteFrom("bindings").where("extension_id", "=", w.extensionId);
      out.push(q.compile());
    }
    endRun();
    return out;
  }

  return {
    loadLive: (now) => db.selectFrom("bindings").selectAll().where("tm_expire", ">", now).execute(),
    async apply(writes) {
      if (writes.length === 0) return;
      const queries = statements(writes);
      await db.transaction().execute(async (tx) => {
        for (const q of queries) await tx.executeQuery(q);
      });
    },
    async deleteExpired(now) {
      const r = await db.deleteFrom("bindings").where("tm_expire", "<=", now).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
