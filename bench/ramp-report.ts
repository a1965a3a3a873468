// What bench:sip and bench:calls share: the options of a ramp against Kamailio, its steps and its
// best one, and the report of the two ramps (the summary on stderr, the figures on stdout, the
// frame of the BENCHMARKS.md section).
import { markdownTable, sectionOf } from "./benchmarks-md.js";
import type { Machine } from "./machine.js";
import { flags, values } from "./options.js";

export const RATIO_TARGET = 0.5;

/** The options both take, each documented in its own --help. */
export const RAMP_OPTIONS = {
  ...flags("quick", "no-install", "skip-kamailio", "skip-sipext", "profile", "keep", "help"),
  ...flags("write", "no-write"),
  ...values("rates", "duration", "refine", "transport"),
};

/** --rates: positive whole numbers separated by spaces. */
export function ratesOption(text: string): number[] {
  if (!/^\s*\d+(\s+\d+)*\s*$/.test(text) || /(^|\s)0+(\s|$)/.test(text))
    throw new Error('--rates must be positive whole numbers separated by spaces, e.g. "500 1000 1500"');
  return text.trim().split(/\s+/).map(Number);
}

export function transportOption(raw = "u1"): "u1" | "t1" {
  if (raw !== "u1" && raw !== "t1") throw new Error("--transport must be u1 or t1");
  return raw;
}

/** A step of a ramp, as far as the report reads it (cpuPct: the server's, % of one core; its memory, kB). */
export type Step = Rates & { cpuPct: number; rssKb: number; pssKb: number; nproc: number };
type Rates = { rate: number; achieved: number; failPct: number; pass: boolean };

export interface Ramp<S extends Step> {
  label: string;
  /** the highest rate sustained */
  perSecond: number;
  steps: S[];
  /** the passing step with the highest achieved rate */
  best: S | undefined;
  firstFail: S | undefined;
}

export function rampOf<S extends Step>(label: string, steps: S[], perSecond?: number): Ramp<S> {
  const passing = steps.filter((s) => s.pass);
  const best = passing.reduce<S | undefined>((a, s) => (!a || s.achieved > a.achieved ? s : a), undefined);
  const firstFail = steps.find((s) => !s.pass);
  return { label, perSecond: perSecond ?? best?.achieved ?? 0, steps, best, firstFail };
}

export const fmt = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? "n/a" : Math.round(n).toLocaleString("en-US");
const mib = (kb: number | undefined) =>
  kb === undefined || Number.isNaN(kb) ? "n/a" : `${(kb / 1024).toFixed(0)} MiB`;
/** The memory of the server's process tree at a step: RSS (PSS, processes). */
export const memory = (s: Step | undefined) =>
  `${mib(s?.rssKb)} (PSS ${mib(s?.pssKb)}, ${fmt(s?.nproc)} proc)`;
export const firstFailCell = (r: Ramp<Step>) =>
  r.firstFail ? `${fmt(r.firstFail.rate)} (${r.firstFail.failPct} % failed)` : "none";

/** A ramp's result in one line of the log: its rate, then `details` of its best step. */
export function rampLine<S extends Step>(r: Ramp<S>, unit: string, details: (best: S) => string): string {
  if (!r.best) return `${r.label}: no passing step`;
  const fail = r.firstFail
    ? `first failing target ${fmt(r.firstFail.rate)}/s (${r.firstFail.failPct} % failed)`
    : "every step passed: the limit was not reached (extend --rates)";
  return `${r.label}: ${fmt(r.perSecond)} ${unit} (target ${fmt(r.best.rate)}/s; ${fail}) | ${details(r.best)}`;
}

type Pair<R extends Ramp<Step>> = { kamailio: R | undefined; sipext: R | undefined };

const ratioOf = ({ kamailio: k, sipext: s }: Pair<Ramp<Step>>) =>
  k && s && k.perSecond > 0 ? s.perSecond / k.perSecond : undefined;

/** When a ramp passed every step its limit is unknown, and the ratio only a bound. */
function ratioCaveat({ kamailio, sipext }: Pair<Ramp<Step>>): string | undefined {
  const [k, s] = [kamailio && !kamailio.firstFail, sipext && !sipext.firstFail];
  if (k && s)
    return "neither ramp reached its limit (every step passed): the ratio means nothing; extend --rates";
  if (k) return "Kamailio passed every step: its limit is higher, so the true ratio is LOWER; extend --rates";
  if (s) return "sipext passed every step: its limit is higher, so the true ratio is higher; extend --rates";
  return undefined;
}

/**
 * The end of a run (each measurement was logged as it ended): a summary on stderr (the machine,
 * `load`, the ratio), and the figures on stdout, one `name=value` a line (`key`: the rate's).
 */
export function printSummary(
  o: Pair<Ramp<Step>> & { machine: Machine; load: string },
  key: string,
  figures: string[] = [],
) {
  const { machine: m, kamailio, sipext } = o;
  const ratio = ratioOf(o);
  const caveat = ratioCaveat(o);
  const verdict = ratio !== undefined && ratio >= RATIO_TARGET ? "met" : "NOT met";
  const out = [
    "",
    `machine: ${m.nproc} cores ${m.cpu}, ${m.ramGiB} GiB, node ${m.node}, Kamailio ${m.kamailio}, SIPp ${m.sipp}`,
    `load: ${o.load}`,
    ...(ratio === undefined
      ? []
      : [`ratio sipext/Kamailio: ${ratio.toFixed(2)} (target ≥ ${RATIO_TARGET}: ${verdict})`]),
    ...(caveat ? [`WARNING: ${caveat}`] : []),
  ];
  process.stderr.write(`${out.join("\n")}\n\n`);
  if (kamailio) process.stdout.write(`kamailio_${key}=${kamailio.perSecond}\n`);
  if (sipext) process.stdout.write(`sipext_${key}=${sipext.perSecond}\n`);
  if (ratio !== undefined) process.stdout.write(`ratio_sipext_kamailio=${ratio.toFixed(3)}\n`);
  for (const f of figures) process.stdout.write(`${f}\n`);
}

/**
 * The BENCHMARKS.md section of both ramps: the command, date and machine, `bullets`, the best step
 * of each (`best`: the columns a|b|…, the cells after the name and the rate), the ratio, `notes`
 * (a paragraph or a table each), and every step of both ramps (`steps`: the columns between the
 * target rate, achieved rate and failed % and the verdict).
 */
export function rampSection<S extends Step>(o: {
  name: string;
  title: string;
  command: string;
  machine: Machine;
  kamailioSetup: string;
  sharing: string;
  bullets: string[];
  intro: string;
  best: { align: string; head: string; cells: (r: Ramp<S>) => string[] };
  kamailio: Ramp<S>;
  sipext: Ramp<S>;
  notes: string[];
  steps: Array<[head: string, cell: (s: S) => string]>;
}): string {
  const m = o.machine;
  const ratio = ratioOf(o);
  const caveat = ratioCaveat(o);
  const best = (name: string, r: Ramp<S>) => [name, `**${fmt(r.perSecond)}**`, ...o.best.cells(r)];
  const stepsTable = (r: Ramp<S>) =>
    markdownTable(`rrr${"r".repeat(o.steps.length)}c`, [
      [`${r.label} target/s`, "achieved/s", "failed %", ...o.steps.map(([head]) => head), "pass"],
      ...r.steps.map((s) => {
        const cells = o.steps.map(([, cell]) => cell(s));
        return [fmt(s.rate), fmt(s.achieved), String(s.failPct), ...cells, s.pass ? "yes" : "no"];
      }),
    ]);
  return sectionOf(o.name, [
    `## ${o.title}`,
    "",
    `- Command: ${o.command}`,
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} cores (${m.cpu}), ${m.ramGiB} GiB RAM, Linux ${m.kernel}, node ${m.node}, ` +
      `Kamailio ${m.kamailio} (${o.kamailioSetup}), SIPp ${m.sipp}; ${o.sharing}`,
    ...o.bullets.map((b) => `- ${b}`),
    "",
    o.intro,
    "",
    ...markdownTable(o.best.align, [
      o.best.head.split("|"),
      best(`Kamailio ${m.kamailio}`, o.kamailio),
      best("sipext", o.sipext),
    ]),
    "",
    `**sipext / Kamailio = ${ratio === undefined ? "n/a" : ratio.toFixed(2)}** (target ≥ ${RATIO_TARGET.toFixed(2)}: ${
      ratio !== undefined && ratio >= RATIO_TARGET ? "met" : "not met"
    })${caveat ? ` — **caveat: ${caveat}**` : ""}.`,
    "",
    ...o.notes.flatMap((n) => [n, ""]),
    "<details><summary>Every ramp step</summary>",
    "",
    ...stepsTable(o.kamailio),
    "",
    ...stepsTable(o.sipext),
    "",
    "</details>",
  ]);
}
