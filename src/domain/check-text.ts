// The checks of free text that a schema cannot make, shared by every resource with a name and a
// detail (CONTRACT §6: name ≤ 255, detail ≤ 1024 characters).
import { DETAIL_MAX, NAME_MAX } from "../contract/common.js";
import { invalidArgument } from "./errors.js";

function checkText(field: string, v: string | undefined, max: number): void {
  if (v === undefined) return;
  // Characters are code points (as the schema's maxLength counts them), not UTF-16 units.
  if ([...v].length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  // PostgreSQL text cannot hold NUL: refuse it on every database rather than fail with 500.
  if (v.includes("\u0000")) throw invalidArgument(field, "must not contain the NUL character (U+0000)");
}

/** `name` and `detail`, when given, fit their limits (the domain is called by the CLI too). */
export function checkNameAndDetail(input: { name?: string | undefined; detail?: string | undefined }): void {
  checkText("name", input.name, NAME_MAX);
  checkText("detail", input.detail, DETAIL_MAX);
}
