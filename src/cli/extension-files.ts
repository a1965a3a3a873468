// `sipext extensions import|export` (CONTRACT §16): files of extensions, CSV (header
// extension,password,name,detail) or a JSON array of the API's create bodies. Every row is
// checked by the rules the API applies before anything is written; the writes then go through
// the extension service one by one (same validation, same events).
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import {
  type CreateExtensionBody,
  EXTENSION_PATTERN,
  EXTENSION_RULE,
  type Extension,
  PASSWORD_PATTERN,
  PASSWORD_RULE,
} from "../contract/extension.js";
import { checkNameAndDetail } from "../domain/check-text.js";
import { DomainError } from "../domain/errors.js";
import type { Principal } from "../domain/principal.js";
import type { Core } from "../main.js";
import { csvLine, parseCsv } from "./csv.js";
import { type OutputOptions, printList, UsageError, wantsJson } from "./output.js";

export const CSV_COLUMNS = ["extension", "password", "name", "detail"] as const;
const JSON_FIELDS = new Set(["extension", "password", "name", "detail", "domain_id"]);
/** Above this many rows, progress goes to stderr every PROGRESS_EVERY rows. */
const PROGRESS_EVERY = 100;

export interface FileRow {
  line: number;
  body: CreateExtensionBody;
}

/** One complaint about one row: `line <n>: <field>: <what is wrong>`. */
class RowError extends Error {
  constructor(
    readonly line: number,
    field: string,
    what: string,
  ) {
    super(`line ${line}: ${field}: ${what}`);
  }
}

function csvRows(text: string): { rows: FileRow[]; errors: RowError[] } {
  const records = parseCsv(text);
  const header = records.shift();
  if (!header) return { rows: [], errors: [new RowError(1, "header", "the file is empty")] };
  const errors: RowError[] = [];
  const names = header.fields.map((f) => f.trim().toLowerCase());
  for (const n of names) {
    if (!(CSV_COLUMNS as readonly string[]).includes(n))
      errors.push(new RowError(header.line, n || "header", `is not a column (${CSV_COLUMNS.join(",")})`));
  }
  if (!names.includes("extension")) errors.push(new RowError(header.line, "extension", "column is missing"));
  if (errors.length > 0) return { rows: [], errors };
  const rows: FileRow[] = [];
  for (const r of records) {
    if (r.fields.length !== names.length) {
      errors.push(new RowError(r.line, "row", `has ${r.fields.length} fields, the header ${names.length}`));
      continue;
    }
    const v = Object.fromEntries(names.map((n, i) => [n, r.fields[i] as string]));
    // An empty password in a CSV row asks for a generated one (CONTRACT §16).
    rows.push({
      line: r.line,
      body: {
        extension: v.extension ?? "",
        ...(v.password ? { password: v.password } : {}),
        ...(v.name !== undefined ? { name: v.name } : {}),
        ...(v.detail !== undefined ? { detail: v.detail } : {}),
      },
    });
  }
  return { rows, errors };
}

/** The line each top-level element of a JSON array starts on. */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expecting = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") line++;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r" || c === "\n") continue;
    if (depth === 1 && expecting && c !== "]") {
      lines.push(line);
      expecting = false;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") {
      depth++;
      if (depth === 1) expecting = true;
    } else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) expecting = true;
  }
  return lines;
}

function jsonRows(text: string): { rows: FileRow[]; errors: RowError[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { rows: [], errors: [new RowError(1, "file", `is not JSON (${(err as Error).message})`)] };
  }
  if (!Array.isArray(data)) return { rows: [], errors: [new RowError(1, "file", "must be a JSON array")] };
  const lines = elementLines(text);
  const rows: FileRow[] = [];
  const errors: RowError[] = [];
  data.forEach((item: unknown, i) => {
    const line = lines[i] ?? i + 1;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      errors.push(new RowError(line, "row", "must be an object like the API's create body"));
      return;
    }
    for (const [k, v] of Object.entries(item)) {
      if (!JSON_FIELDS.has(k)) errors.push(new RowError(line, k, "is not a field of an extension"));
      else if (typeof v !== "string") errors.push(new RowError(line, k, "must be a string"));
    }
    rows.push({ line, body: item as CreateExtensionBody });
  });
  return { rows, errors };
}

/** The API's rules for a create body, row by row, and the file's own (no extension twice). */
function checkRows(rows: FileRow[], domainId: string): RowError[] {
  const errors: RowError[] = [];
  const seen = new Map<string, number>();
  const ext = new RegExp(EXTENSION_PATTERN);
  const pw = new RegExp(PASSWORD_PATTERN);
  for (const { line, body } of rows) {
    if (typeof body.extension !== "string" || !ext.test(body.extension))
      errors.push(new RowError(line, "extension", `must be ${EXTENSION_RULE}`));
    if (body.password !== undefined && (typeof body.password !== "string" || !pw.test(body.password)))
      errors.push(new RowError(line, "password", `must be ${PASSWORD_RULE}`));
    if (body.domain_id !== undefined && body.domain_id !== "" && body.domain_id !== domainId)
      errors.push(new RowError(line, "domain_id", "is not a domain of this customer"));
    try {
      checkNameAndDetail(body);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      errors.push(new RowError(line, ...(err.message.split(": ", 2) as [string, string])));
    }
    const first = seen.get(body.extension);
    if (first !== undefined)
      errors.push(new RowError(line, "extension", `"${body.extension}" repeats line ${first}`));
    else seen.set(body.extension, line);
  }
  return errors;
}

/** Every live extension of the customer, through the service's paging. */
async function allExtensions(core: Core, p: Principal): Promise<Extension[]> {
  const all: Extension[] = [];
  for (let token = ""; ; ) {
    const page = await core.services.extensions.list(p, { page_size: "100", page_token: token });
    all.push(...page.result);
    if (page.result.length < 100) return all;
    token = page.next_page_token;
  }
}

async function readRows(file: string): Promise<{ rows: FileRow[]; errors: RowError[] }> {
  let text: string;
  try {
    text = (await readFile(file, "utf8")).replace(/^\uFEFF/, "");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const json = extname(file).toLowerCase() === ".json" || /^\s*\[/.test(text);
  return json ? jsonRows(text) : csvRows(text);
}

interface ImportResult {
  line: number;
  extension: string;
  status: "created" | "skipped" | "valid";
  id: string;
  /** a generated password, shown this once; "" when the file gave one */
  password: string;
}

export async function importExtensions(
  core: Core,
  p: Principal,
  file: string,
  o: OutputOptions & { dryRun?: boolean },
): Promise<void> {
  const { rows, errors } = await readRows(file);
  const domains = await core.services.tenants.listDomains(p, {});
  errors.push(...checkRows(rows, domains.result[0]?.id ?? ""));
  const existing = new Map((await allExtensions(core, p)).map((e) => [e.extension, e]));
  const results: ImportResult[] = [];
  const todo: FileRow[] = [];
  for (const row of rows) {
    const have = existing.get(row.body.extension);
    if (!have) {
      todo.push(row);
      continue;
    }
    // The same extension with the same name and detail: an earlier run made it (CONTRACT §16).
    if (have.name === (row.body.name ?? "") && have.detail === (row.body.detail ?? ""))
      results.push({
        line: row.line,
        extension: have.extension,
        status: "skipped",
        id: have.id,
        password: "",
      });
    else
      errors.push(
        new RowError(row.line, "extension", `"${have.extension}" already exists with another name or detail`),
      );
  }
  if (errors.length > 0) {
    errors.sort((a, b) => a.line - b.line);
    for (const e of errors) process.stderr.write(`sipext: ${e.message}\n`);
    throw new DomainError(
      "INVALID_ARGUMENT",
      "INVALID_FILE",
      `${errors.length} problem(s) in ${file}; nothing was created`,
    );
  }
  for (const [i, row] of todo.entries()) {
    if (o.dryRun) {
      results.push({ line: row.line, extension: row.body.extension, status: "valid", id: "", password: "" });
      continue;
    }
    const made = await core.services.extensions.create(p, row.body);
    const password = row.body.password === undefined ? made.password : "";
    results.push({ line: row.line, extension: made.extension, status: "created", id: made.id, password });
    if (todo.length > PROGRESS_EVERY && (i + 1) % PROGRESS_EVERY === 0)
      process.stderr.write(`sipext: created ${i + 1} of ${todo.length}\n`);
  }
  results.sort((a, b) => a.line - b.line);
  const count = (s: ImportResult["status"]) => results.filter((r) => r.status === s).length;
  const summary = { created: count("created"), skipped: count("skipped"), dry_run: o.dryRun === true };
  if (wantsJson(o))
    return void process.stdout.write(`${JSON.stringify({ result: results, ...summary }, null, 2)}\n`);
  printList(
    o,
    { result: results },
    {
      line: (r) => String(r.line),
      extension: (r) => r.extension,
      status: (r) => (r.status === "valid" ? "would create" : r.status),
      id: (r) => r.id,
      password: (r) => r.password,
    },
  );
  const verb = o.dryRun
    ? `${todo.length} would be created (dry run: nothing written)`
    : `${summary.created} created`;
  process.stdout.write(`${verb}, ${summary.skipped} already there\n`);
}

/** Every extension as an import file: CSV with the import's header, or a JSON array of create bodies. */
export async function exportExtensions(core: Core, p: Principal, format: string): Promise<void> {
  const all = (await allExtensions(core, p)).reverse();
  if (format === "json") {
    const bodies = all.map((e) => ({
      extension: e.extension,
      // "" when passwords are not shown (SIPEXT_SHOW_PASSWORDS=false): an import then generates one.
      ...(e.password ? { password: e.password } : {}),
      name: e.name,
      detail: e.detail,
    }));
    return void process.stdout.write(`${JSON.stringify(bodies, null, 2)}\n`);
  }
  process.stdout.write(`${csvLine([...CSV_COLUMNS])}\n`);
  for (const e of all) process.stdout.write(`${csvLine([e.extension, e.password, e.name, e.detail])}\n`);
}
