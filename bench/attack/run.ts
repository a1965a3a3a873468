// `npm run bench:attack [-- options]`
//
// sipext attacked as on the open internet (CONTRACT §14, issue #12), on loopback only, bounded in
// time and rate; legitimate phones use 127.0.0.1 (SIPEXT_SIP_TRUSTED_SOURCES), attackers other
// 127/8 addresses (bench/attack/target.ts). One sipext (`dist/cli/main.js serve`, as `npm start` runs it, embedded SQLite,
// its own process) for parts 1–3, 5 and 6; parts 4 and 7 start their own:
//   1. a password guesser (guess.ts): guesses answered before the ban, the ban as listed, the real
//      phone still served;
//   2. amplification (guess.ts): one unauthenticated request of each kind, every datagram back;
//   3. an overload flood (overload.ts, flood.ts) while a legitimate phone registers: its success
//      and times, sipext's RSS before, at the peak and after;
//   4. goodput at twice the registration capacity (goodput.ts, SIPp): a short ramp, then 2×;
//   5. idle TCP connections from one address (idle-connections.ts, idle-holder.ts) while a TCP
//      phone registers from another;
//   6. fuzzing over UDP and TCP (fuzz.ts), then a legitimate registration;
//   7. kill -9 while a client creates extensions (kill.ts): acknowledged writes lost after restart.
// Writes its section of RELIABILITY.md (unless --quick, --no-write or a part skipped).
import { join } from "node:path";
import { recordSection, sectionOf } from "../benchmarks-md.js";
import { loadAtStart, machine } from "../machine.js";
import { commandLineOf, flags, parseOptions, values, wholeOption } from "../options.js";
import * as proc from "../proc.js";
import { ratesOption } from "../ramp-report.js";
import { fuzz, fuzzLines } from "./fuzz.js";
import { goodput, goodputLines } from "./goodput.js";
import { amplification, amplificationLines, guessing, guessingLines } from "./guess.js";
import { idleConnections, idleLines } from "./idle-connections.js";
import { killLines, killRounds } from "./kill.js";
import { flood, floodLines } from "./overload.js";
import {
  extension,
  FLOODER,
  FUZZER,
  GUESSER,
  IDLER,
  LEGIT,
  PROBER,
  startTarget,
  type Target,
  TCP_PHONE,
} from "./target.js";

const log = proc.logger("bench:attack");
const RELIABILITY_MD = join(proc.ROOT, "RELIABILITY.md");
const PARTS = ["guess", "amp", "flood", "goodput", "idle", "fuzz", "kill"] as const;

const HELP = [
  "usage: npm run bench:attack -- [options]",
  "  --guess-rate N       guesses attempted per second (default 2000)",
  "  --guess-seconds S    length of the guessing (default 10)",
  "  --amp-wait S         seconds the amplification probes listen for answers (default 35: Timer H is 32 s)",
  "  --flood-rate N       unauthenticated REGISTERs per second of the flood (default 30000)",
  "  --flood-seconds S    length of the flood (default 30)",
  "  --legit-interval MS  a legitimate registration every MS during the flood (default 200)",
  "  --after S            RSS measured this long after the flood (default 60)",
  '  --goodput-rates "R…" SIPp ramp steps, registrations/s, up to the first failing one',
  '                       (default "1000 2000 3000 4000 5000 6000 8000 10000")',
  "  --goodput-seconds S  length of each SIPp step, the 1× and 2× ones included (default 10)",
  "  --goodput-pairs N    1× then 2× steps measured N times in turns after the ramp (default 2)",
  "  --idle-count N       idle TCP connections opened from one address (default 10000)",
  "  --idle-seconds S     how long they are held while the TCP phone registers (default 30)",
  "  --fuzz-rate N        fuzzed UDP messages per second (TCP: a tenth of it) (default 2000)",
  "  --fuzz-seconds S     length of the fuzzing (default 20)",
  "  --kill-rounds N      kill -9 rounds (default 5)",
  "  --seed N             seed of the fuzzer and of the kill moments (default 12)",
  `  --skip-<part>        leave a part out: ${PARTS.map((p) => `--skip-${p}`).join(" ")}`,
  "  --quick              smoke run of every part: 3 s of guessing, 5 s probes, a 5 s flood at 5000/s,",
  '                       5 s after, goodput ramp "500 1000" of 3 s steps and one',
  "                       1×/2× pair, 2,000 idle connections for 12 s, 3 s of fuzzing, 2 kill rounds",
  "  --keep               keep the temp dir",
  "  --write | --no-write update RELIABILITY.md or not (default: write unless --quick or a part skipped)",
  "",
];
const OPTIONS = {
  ...flags("quick", "keep", "write", "no-write", "help"),
  ...flags(...PARTS.map((p) => `skip-${p}` as const)),
  ...values(
    "guess-rate",
    "guess-seconds",
    "amp-wait",
    "flood-rate",
    "flood-seconds",
    "legit-interval",
    "after",
  ),
  ...values(
    "goodput-rates",
    "goodput-seconds",
    "goodput-pairs",
    "idle-count",
    "idle-seconds",
    "fuzz-rate",
    "fuzz-seconds",
  ),
  ...values("kill-rounds", "seed"),
};
const o = parseOptions("attack", OPTIONS, HELP, (a) => {
  const q = a.quick;
  const skip = new Set(PARTS.filter((p) => a[`skip-${p}`]));
  const seed = wholeOption("seed", a.seed, 0) ?? 12;
  return {
    ...a,
    skip,
    guessRate: wholeOption("guess-rate", a["guess-rate"], 1) ?? 2000,
    guessSeconds: wholeOption("guess-seconds", a["guess-seconds"], 1) ?? (q ? 3 : 10),
    ampWait: wholeOption("amp-wait", a["amp-wait"], 1) ?? (q ? 5 : 35),
    flood: {
      rate: wholeOption("flood-rate", a["flood-rate"], 1) ?? (q ? 5000 : 30_000),
      seconds: wholeOption("flood-seconds", a["flood-seconds"], 1) ?? (q ? 5 : 30),
      legitInterval: wholeOption("legit-interval", a["legit-interval"], 10) ?? 200,
      after: wholeOption("after", a.after, 0) ?? (q ? 5 : 60),
    },
    goodput: {
      rates: ratesOption(a["goodput-rates"] ?? (q ? "500 1000" : "1000 2000 3000 4000 5000 6000 8000 10000")),
      seconds: wholeOption("goodput-seconds", a["goodput-seconds"], 1) ?? (q ? 3 : 10),
      pairs: wholeOption("goodput-pairs", a["goodput-pairs"], 1) ?? (q ? 1 : 2),
      users: q ? 500 : 2000,
    },
    idle: {
      count: wholeOption("idle-count", a["idle-count"], 1) ?? (q ? 2000 : 10_000),
      seconds: wholeOption("idle-seconds", a["idle-seconds"], 1) ?? (q ? 12 : 30),
      phoneInterval: 500,
    },
    fuzz: {
      rate: wholeOption("fuzz-rate", a["fuzz-rate"], 1) ?? 2000,
      seconds: wholeOption("fuzz-seconds", a["fuzz-seconds"], 1) ?? (q ? 3 : 20),
      connections: 10,
      seed,
    },
    kill: {
      rounds: wholeOption("kill-rounds", a["kill-rounds"], 1) ?? (q ? 2 : 5),
      clients: 8,
      minMs: 500,
      maxMs: q ? 1500 : 4000,
      seed,
    },
    write: !a["no-write"] && (a.write ?? (!q && skip.size === 0)),
  };
});
const runs = (part: (typeof PARTS)[number]) => !o.skip.has(part);

proc.runBenchmark("attack", log, o.keep, async (dir) => {
  const start = await loadAtStart(log);
  // Parts 1–3, 5, 6 on one sipext; the fuzzer trusted, so that the parser, not the ban, meets its messages.
  const s = await startTarget(dir, "data", { SIPEXT_SIP_TRUSTED_SOURCES: `${LEGIT},${FUZZER}` });
  const { ext: victim, domain } = await extension(s, "victim");
  const { ext: legitExt } = await extension(s, "legit");
  const { ext: tcpExt } = await extension(s, "tcp");
  const t: Target = { sipPort: s.sipPort, pid: s.pid, origin: s.origin, token: s.token, domain };
  log(`sipext pid ${t.pid}: SIP 127.0.0.1:${t.sipPort}, HTTP ${t.origin}`);

  const lines: string[] = [];
  const add = (part: string[]) => lines.push("", ...part);
  if (runs("guess"))
    add(guessingLines(await guessing(t, victim, o.guessRate, o.guessSeconds), o.guessRate, o.guessSeconds));
  if (runs("amp")) add(amplificationLines(await amplification(t, victim, o.ampWait), o.ampWait));
  if (runs("flood")) add(floodLines(await flood(t, legitExt, o.flood), o.flood));
  const idle = runs("idle") ? await idleConnections(t, tcpExt, o.idle) : undefined;
  const fz = runs("fuzz") ? await fuzz(t, legitExt, () => s.server.child.running, o.fuzz) : undefined;
  await s.server.child.stop();
  const gp = runs("goodput") ? await goodput(dir, o.goodput) : undefined;
  if (gp) add(goodputLines(gp, o.goodput));
  if (idle) add(idleLines(idle, o.idle));
  if (fz) add(fuzzLines(fz, o.fuzz));
  if (runs("kill")) add(killLines(await killRounds(dir, o.kill), o.kill));

  const m = machine();
  const text = sectionOf("attack", [
    "## Attacks on loopback (`npm run bench:attack`, CONTRACT §14)",
    "",
    `- Command: \`${commandLineOf("attack")}\``,
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} cores (${m.cpu}), ${m.ramGiB} GiB RAM, Linux ${m.kernel}, node ${m.node}; the attackers, the legitimate phones and sipext share the cores.`,
    `- Load: ${start.busy} % of all cores busy when the run started (load average ${start.load})` +
      `${start.others.length ? `; busy elsewhere: ${start.others.map((l) => `\`${l.slice(0, 80)}\``).join(", ")}` : ""}.`,
    `- sipext: \`dist/cli/main.js serve\` (as \`npm start\` runs it), embedded SQLite, defaults but \`SIPEXT_SIP_TRUSTED_SOURCES=${LEGIT},${FUZZER}\` ` +
      `(the legitimate phones' address and the fuzzer's); the attackers send from ${GUESSER} (guesser), ${PROBER} (probes), ` +
      `${FLOODER} (flood) and ${IDLER} (idle connections), the TCP phone from ${TCP_PHONE}. ` +
      "The goodput and kill -9 parts start a sipext of their own.",
    ...lines,
  ]);
  recordSection(log, "attack", o.write ? text : undefined, RELIABILITY_MD);
});
