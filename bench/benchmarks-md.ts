// BENCHMARKS.md is shared by the benchmark scripts: each owns one section between its markers
// (`<!-- bench:NAME:begin -->` … `<!-- bench:NAME:end -->`) and rewrites only that.
import { readFileSync, writeFileSync } from "node:fs";

export const sectionMarkers = (name: string) => ({
  begin: `<!-- bench:${name}:begin -->`,
  end: `<!-- bench:${name}:end -->`,
});

/** Replaces the section `name` of the file at `path` by `section` (markers included), or appends it. */
export function writeBenchmarkSection(path: string, name: string, section: string): void {
  const { begin: BEGIN, end: END } = sectionMarkers(name);
  let doc: string;
  try {
    doc = readFileSync(path, "utf8");
  } catch {
    doc =
      "# Benchmarks\n\nFigures measured by the scripts under `bench/`; each section is rewritten by its script.\n";
  }
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin >= 0 && end > begin) doc = `${doc.slice(0, begin)}${section}${doc.slice(end + END.length)}`;
  else doc = `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, doc);
}
