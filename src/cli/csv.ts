// RFC 4180 CSV: fields separated by commas, quoted with `"` (a quote inside doubled), records
// ended by CRLF or LF; a quoted field may hold commas and line breaks.

export interface CsvRecord {
  /** the line of the file the record starts on (1 = the first) */
  line: number;
  fields: string[];
}

/** The records of `text`; empty lines are left out. */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let start = 1;
  let quoted = false;
  let any = false;
  const endRecord = () => {
    if (any || field !== "" || fields.length > 0) records.push({ line: start, fields: [...fields, field] });
    fields = [];
    field = "";
    any = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === "\n") line++;
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
      any = true;
    } else if (c === ",") {
      fields.push(field);
      field = "";
      any = true;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      start = line;
    } else field += c;
  }
  endRecord();
  return records;
}

/** One record, each field quoted when it must be. */
export function csvLine(fields: string[]): string {
  return fields.map((f) => (/[",\r\n]|^\s|\s$/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(",");
}
