// What the `sipext` command prints (CONTRACT §16): a table on a terminal, JSON with --json or when
// stdout is not a terminal (a list in the API's shape `{"result":[…]}`); errors on stderr in one
// line; exit codes 0 done, 1 refused, 2 usage error.
import { DomainError } from "../domain/errors.js";

export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

/** A usage error found after commander parsed the line (e.g. a file that cannot be read). */
export class UsageError extends Error {}

export interface OutputOptions {
  json?: boolean;
  /** a list's --page-size: a page this full may have a next one */
  pageSize?: string;
}

export const wantsJson = (o: OutputOptions): boolean => o.json === true || !process.stdout.isTTY;

/** Column name → how to show it (the field's own text by default). */
export type Columns<T> = Record<string, (row: T) => string>;

/** The named fields of a row, each as its text. */
export function fields<T extends object>(...names: Array<keyof T & string>): Columns<T> {
  return Object.fromEntries(names.map((n) => [n, (r: T) => String(r[n] ?? "")])) as Columns<T>;
}

export function table<T>(rows: readonly T[], columns: Columns<T>): string {
  const heads = Object.keys(columns);
  const cells = rows.map((r) => heads.map((h) => (columns[h] as (row: T) => string)(r).replace(/\s+/g, " ")));
  const widths = heads.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  return [line(heads.map((h) => h.toUpperCase())), ...cells.map(line)].join("\n");
}

/** One object: JSON, or `field  value` lines. */
export function printOne<T extends object>(o: OutputOptions, value: T): void {
  if (wantsJson(o)) return void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const rows = Object.entries(value).map(([k, v]) => ({
    k,
    v: typeof v === "object" && v !== null ? JSON.stringify(v) : String(v),
  }));
  const width = Math.max(...rows.map((r) => r.k.length));
  process.stdout.write(`${rows.map((r) => `${r.k.padEnd(width)}  ${r.v}`).join("\n")}\n`);
}

/** A list: `{"result":[…], …}` as JSON (the rest of `page` kept), or a table. */
export function printList<T>(o: OutputOptions, page: { result: T[] }, columns: Columns<T>): void {
  if (wantsJson(o)) return void process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
  // A full page may have a next one (CONTRACT §3: the token is the last item's tm_create).
  const full = page.result.length > 0 && page.result.length >= Math.min(Number(o.pageSize ?? 100), 100);
  const more =
    "next_page_token" in page && full ? `\n(next page: --page-token "${page.next_page_token}")` : "";
  process.stdout.write(`${table(page.result, columns)}${page.result.length === 0 ? "\n(none)" : more}\n`);
}

/** Prints why the command was refused, on one line, and sets the exit code. */
export function refuse(err: unknown): void {
  if (err instanceof DomainError) {
    process.stderr.write(`sipext: ${err.message.replace(/\s+/g, " ")}\n`);
    process.exitCode = EXIT_REFUSED;
  } else if (err instanceof UsageError) {
    process.stderr.write(`sipext: ${err.message}\n`);
    process.exitCode = EXIT_USAGE;
  } else throw err;
}
