// `sipext extensions import|export` (CONTRACT §16) on SQLite and PostgreSQL: every row checked
// before anything is written, bad rows named by line and field, dry runs, re-runs, and a round
// trip from one customer to another. Run in this process (test/helpers/cli.ts runInProcess).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Run, runInProcess } from "../helpers/cli.js";
import { DATABASES, dropSchema, newSchemaUrl, removeDir } from "../helpers/harness.js";

interface Ext {
  id: string;
  extension: string;
  name: string;
  detail: string;
  password: string;
}
interface ImportOut {
  result: Array<{ line: number; extension: string; status: string; id: string; password: string }>;
  created: number;
  skipped: number;
  dry_run: boolean;
}
const json = <T>(r: Run): T => JSON.parse(r.stdout) as T;

describe.each(DATABASES)("extensions import and export on %s", (kind) => {
  const dir = mkdtempSync(join(tmpdir(), "sipext-import-"));
  const env: Record<string, string> = { SIPEXT_DATA_DIR: dir };
  if (kind === "postgres") env.DATABASE_URL = newSchemaUrl();
  const cli = (...args: string[]) => runInProcess(args, env);
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const customers: string[] = [];
  const list = async (customer: string) => {
    const r = await cli("extensions", "list", "--customer-id", customer);
    expect(r.code).toBe(0);
    return json<{ result: Ext[] }>(r).result;
  };

  beforeAll(async () => {
    for (const name of ["from", "to", "json"]) {
      const r = await cli("customers", "create", "--name", name);
      expect(r.code, r.stderr).toBe(0);
      customers.push(json<{ customer: { id: string } }>(r).customer.id);
    }
  }, 60_000);
  afterAll(async () => {
    await dropSchema(env.DATABASE_URL);
    removeDir(dir);
  });

  const good = [
    "extension,password,name,detail",
    "1001,,Alice,front desk",
    '1002,Secret-pass-1002,"Bob, the ""builder""",',
    // A quoted field over two lines: the next record starts on line 6.
    '1003,,Carol,"line one',
    'line two"',
  ].join("\n");

  it("refuses a file with bad rows, naming each line and field, and creates nothing", async () => {
    const path = file(
      "bad.csv",
      `${good}\nbad ext!,,Dave,\n1005,short,Eve,\n1001,,Alice again,\n1006,,${"x".repeat(256)},\n`,
    );
    const r = await cli("extensions", "import", "--customer-id", customers[0] as string, path);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^sipext: line 6: extension: must be 1-40 characters/),
      expect.stringMatching(/^sipext: line 7: password: must be 8-80 printable ASCII/),
      'sipext: line 8: extension: "1001" repeats line 2',
      "sipext: line 9: name: must be at most 255 characters",
      expect.stringMatching(/4 problem\(s\) in .*bad\.csv; nothing was created$/),
    ]);
    expect(r.stdout).toBe("");
    expect(await list(customers[0] as string)).toEqual([]);
  });

  it("refuses a JSON file's bad items by the line they start on", async () => {
    const path = file(
      "bad.json",
      '[\n  {"extension": "2001", "name": "ok"},\n  {"extension": "2002",\n   "colour": "red"},\n  {"extension": 2003}\n]\n',
    );
    const r = await cli("extensions", "import", "--customer-id", customers[0] as string, path);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("line 3: colour: is not a field of an extension");
    expect(r.stderr).toContain("line 5: extension: must be a string");
    expect(await list(customers[0] as string)).toEqual([]);
  });

  it("validates on --dry-run and writes nothing", async () => {
    const path = file("good.csv", good);
    const r = await cli("extensions", "import", "--customer-id", customers[0] as string, "--dry-run", path);
    expect(r.code, r.stderr).toBe(0);
    const out = json<ImportOut>(r);
    expect(out).toMatchObject({ created: 0, skipped: 0, dry_run: true });
    expect(out.result.map((x) => [x.line, x.extension, x.status])).toEqual([
      [2, "1001", "valid"],
      [3, "1002", "valid"],
      [4, "1003", "valid"],
    ]);
    expect(await list(customers[0] as string)).toEqual([]);
  });

  it("creates the rows, prints generated passwords once, and a re-run changes nothing", async () => {
    const path = file("good.csv", good);
    const r = await cli("extensions", "import", "--customer-id", customers[0] as string, path);
    expect(r.code, r.stderr).toBe(0);
    const out = json<ImportOut>(r);
    expect(out).toMatchObject({ created: 3, skipped: 0, dry_run: false });
    const byExt = new Map((await list(customers[0] as string)).map((e) => [e.extension, e]));
    expect(byExt.get("1002")).toMatchObject({ name: 'Bob, the "builder"', password: "Secret-pass-1002" });
    expect(byExt.get("1003")?.detail).toBe("line one\nline two");
    // Generated passwords are in the output (the given one is not echoed).
    const printed = new Map(out.result.map((x) => [x.extension, x.password]));
    expect(printed.get("1001")).toBe(byExt.get("1001")?.password);
    expect(printed.get("1001")).toMatch(/^[\x21-\x7e]{16,}$/);
    expect(printed.get("1002")).toBe("");

    const again = await cli("extensions", "import", "--customer-id", customers[0] as string, path);
    expect(again.code, again.stderr).toBe(0);
    expect(json<ImportOut>(again)).toMatchObject({ created: 0, skipped: 3 });
    expect(await list(customers[0] as string)).toHaveLength(3);

    // The same extension with another name is a conflict, not a skip.
    const changed = file("changed.csv", "extension,name\n1001,Someone else\n1009,New\n");
    const c = await cli("extensions", "import", "--customer-id", customers[0] as string, changed);
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('line 2: extension: "1001" already exists with another name or detail');
    expect(await list(customers[0] as string)).toHaveLength(3);
  });

  it("exports CSV and JSON that import into another customer unchanged", async () => {
    const csv = await cli("extensions", "export", "--customer-id", customers[0] as string);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout.split("\n")[0]).toBe("extension,password,name,detail");
    const jsonOut = await cli(
      "extensions",
      "export",
      "--customer-id",
      customers[0] as string,
      "--format",
      "json",
    );
    expect(jsonOut.code, jsonOut.stderr).toBe(0);

    const into = async (customer: string, name: string, text: string) => {
      const r = await cli("extensions", "import", "--customer-id", customer, file(name, text));
      expect(r.code, r.stderr).toBe(0);
      expect(json<ImportOut>(r).created).toBe(3);
    };
    await into(customers[1] as string, "export.csv", csv.stdout);
    await into(customers[2] as string, "export.json", jsonOut.stdout);
    const shape = (xs: Ext[]) =>
      xs
        .map((e) => [e.extension, e.password, e.name, e.detail])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const original = shape(await list(customers[0] as string));
    expect(shape(await list(customers[1] as string))).toEqual(original);
    expect(shape(await list(customers[2] as string))).toEqual(original);
    // Exporting again and importing back into the first customer skips every row.
    const back = await cli(
      "extensions",
      "import",
      "--customer-id",
      customers[0] as string,
      join(dir, "export.csv"),
    );
    expect(json<ImportOut>(back)).toMatchObject({ created: 0, skipped: 3 });
  }, 30_000);

  it("shows progress on stderr for a large file", async () => {
    const rows = Array.from({ length: 150 }, (_, i) => `p${i},,Person ${i},`);
    const path = file("large.csv", `extension,password,name,detail\n${rows.join("\n")}\n`);
    const r = await cli("extensions", "import", "--customer-id", customers[1] as string, path);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("sipext: created 100 of 150\n");
    expect(json<ImportOut>(r).created).toBe(150);
  }, 60_000);
});
