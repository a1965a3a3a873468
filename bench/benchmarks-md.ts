// BENCHMARKS.md is shared by the benchmark scripts: each owns one section between its markers
// (`<!-- bench:NAME:begin -->` … `<!-- bench:NAME:end -->`) and rewrites only that.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./proc.js";

export const BENCHMARKS_MD = join(ROOT, "BENCHMARKS.md");
const NEW_FILE =
  "# Benchmarks\n\nFigures measured by the scripts under `bench/`; each section is rewritten by its script.\n";
const marker = (name: string, end: "begin" | "end") => `<!-- bench:${name}:${end} -->`;

/** The section `name` (markers included) around its lines. */
export const sectionOf = (name: string, lines: string[]) =>
  [marker(name, "begin"), ...lines, marker(name, "end")].join("\n");

/**
 * Replaces the section `name` of the file at `path` by `section` (from sectionOf), or appends it;
 * leaves the file alone when `section` is undefined (a run not to record).
 */
export function recordSection(
  log: (line: string) => void,
  name: string,
  section?: string,
  path = BENCHMARKS_MD,
) {
  if (section === undefined)
    return log(
      "BENCHMARKS.md left alone (--quick, --profile, --no-write or a part skipped; --write to record)",
    );
  const doc = existsSync(path) ? readFileSync(path, "utf8") : NEW_FILE;
  const [b, e] = [doc.indexOf(marker(name, "begin")), doc.indexOf(marker(name, "end"))];
  const end = e + marker(name, "end").length;
  writeFileSync(
    path,
    b >= 0 && e > b ? `${doc.slice(0, b)}${section}${doc.slice(end)}` : `${doc.trimEnd()}\n\n${section}\n`,
  );
  log(`updated the ${name} section of ${path}`);
}

/** A Markdown table: a header row, then the body; `align` has one letter a column (l, r or c). */
export function markdownTable(align: string, rows: string[][]): string[] {
  const line = (r: string[]) => `| ${r.join(" | ")} |`;
  const rule = [...align].map((a) => ({ l: "---", r: "---:", c: ":-:" })[a] ?? "---");
  const [head = [], ...body] = rows;
  return [line(head), `|${rule.join("|")}|`, ...body.map(line)];
}
