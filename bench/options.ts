// The command line of a benchmark: its options (node:util parseArgs) and --help, whole-number
// values, and the command as BENCHMARKS.md records it.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { shellQuote } from "./proc.js";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O; strict: true }>>["values"];

/** parseArgs options: `flags` take no value (true when given), `values` one string each. */
export const flags = <K extends string>(...names: K[]) =>
  Object.fromEntries(names.map((n) => [n, { type: "boolean" }])) as Record<K, { type: "boolean" }>;
export const values = <K extends string>(...names: K[]) =>
  Object.fromEntries(names.map((n) => [n, { type: "string" }])) as Record<K, { type: "string" }>;

/**
 * The options of `npm run bench:NAME` (`help` among them), made into settings by `settle`: --help
 * prints `help` and exits 0; a wrong option or value is a usage error (exit 2).
 */
export function parseOptions<O extends Options, S>(
  name: string,
  options: O,
  help: string[],
  settle: (values: Values<O>) => S,
): S {
  try {
    const { values } = parseArgs({ options, strict: true });
    if ((values as { help?: boolean }).help) {
      process.stdout.write(help.join("\n"));
      process.exit(0);
    }
    return settle(values);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench:${name}: ${message} (--help for usage)\n`);
    process.exit(2);
  }
}

/** A whole-number option (`--name N`, N ≥ min), or undefined when not given. */
export function wholeOption(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
  return Number(raw);
}

/** The command that ran, as typed: `npm run bench:NAME -- options`. */
export function commandLineOf(name: string): string {
  const args = process.argv.slice(2).map(shellQuote);
  return [`npm run bench:${name}`, ...(args.length ? ["--", ...args] : [])].join(" ");
}
