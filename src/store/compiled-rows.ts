// Statements of many rows, built by Kysely once per row count and then only filled in: building
// and compiling a query costs more CPU than running it on SQLite, and writes that come in batches
// (registrations, call records) would otherwise build one per row. Placeholders differ by dialect
// ($1 or ?), so the text is compiled by the dialect's own Kysely and kept.
import { type Compilable, CompiledQuery } from "kysely";

/** A value standing for column `c` of row `i` while the statement is compiled. */
const slot = (i: number, c: string) => `\u0000${i}\u0000${c}`;

interface Compiled<R> {
  sql: string;
  /** For each parameter of `sql`: which row, which column. */
  params: [row: number, column: keyof R][];
}

/**
 * Returns a function that turns rows into statements of `build` — at most `chunks[0]` rows each,
 * then the smaller sizes (largest first; the last must be 1), so that only `chunks.length`
 * statement texts ever exist and each is prepared once by the driver.
 */
export function compiledRows<R extends object>(
  columns: readonly (keyof R & string)[],
  build: (rows: R[]) => Compilable,
  chunks: readonly number[] = [64, 8, 1],
): (rows: readonly R[]) => CompiledQuery[] {
  const bySize = new Map<number, Compiled<R>>();
  function compiledOf(n: number): Compiled<R> {
    let c = bySize.get(n);
    if (c) return c;
    const rows = Array.from(
      { length: n },
      (_, i) => Object.fromEntries(columns.map((col) => [col, slot(i, col)])) as R,
    );
    const compiled = build(rows).compile();
    const params = compiled.parameters.map((p) => {
      const [, i, col] = String(p).split("\u0000");
      return [Number(i), col as keyof R] as [number, keyof R];
    });
    c = { sql: compiled.sql, params };
    bySize.set(n, c);
    return c;
  }
  return (rows) => {
    const out: CompiledQuery[] = [];
    let at = 0;
    for (const size of chunks) {
      for (; rows.length - at >= size; at += size) {
        const c = compiledOf(size);
        out.push(
          CompiledQuery.raw(
            c.sql,
            c.params.map(([i, col]) => rows[at + i]?.[col]),
          ),
        );
      }
    }
    return out;
  };
}
