// `npm run bench:nodes [-- options]`
//
// Several nodes, one deployment (CONTRACT §15: "takes effect on all within 1 s"): two sipext
// processes (`dist/cli/main.js serve`, as `npm start` runs it, node A and node B) on one fresh PostgreSQL schema (dropped
// after), the same keys, their own ports. Over many trials, each with a fresh extension created
// at A and a phone (a real REGISTER with digest over UDP, test/e2e/raw-phone.ts) at B:
//   1. registered at B → listed by A's contacts API (B answers from memory, writes behind, says
//      so on LISTEN/NOTIFY with the binding itself; A puts it in its memory);
//   2. force-unregister at A (DELETE …/contacts) → no longer listed by B's contacts API;
//   3. registered again at B, then the extension deleted at A → B refuses the phone's REGISTER
//      with digest (and B's API no longer lists it).
// Each time is from the moment the change was acknowledged (the 200 to the phone, the 200 of the
// DELETE) to the first poll that sees it; polls follow each other every --poll-ms.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { RawPhone, udpChannel } from "../../test/e2e/raw-phone.js";
import { markdownTable, recordSection, sectionOf } from "../benchmarks-md.js";
import { loadAtStart, machine } from "../machine.js";
import { commandLineOf, flags, parseOptions, values, wholeOption } from "../options.js";
import { dropSchema, newSchemaUrl, pgVersion, schemaOf } from "../pg-schema.js";
import * as proc from "../proc.js";
import { fmt } from "../ramp-report.js";
import {
  call200,
  callApi,
  freeSipPort,
  type HttpServer,
  loginAdmin,
  quantileOf,
  startHttpServer,
} from "../sipext-http.js";

const log = proc.logger("bench:nodes");
const TARGET_MS = 1_000;

const HELP = [
  "usage: npm run bench:nodes -- [options]",
  "  --trials N     trials of each change (default 200; --quick: 20)",
  "  --poll-ms MS   pause between two polls of the other node (default 5)",
  "  --quick        smoke run (20 trials), BENCHMARKS.md left alone (unless --write)",
  "  --keep         keep the temp dir (the nodes' data dirs)",
  "  --write | --no-write  update BENCHMARKS.md or not (default: write unless --quick)",
  "",
];
const OPTIONS = { ...flags("quick", "keep", "write", "no-write", "help"), ...values("trials", "poll-ms") };
const o = parseOptions("nodes", OPTIONS, HELP, (a) => ({
  ...a,
  trials: wholeOption("trials", a.trials, 1) ?? (a.quick ? 20 : 200),
  pollMs: wholeOption("poll-ms", a["poll-ms"], 0) ?? 5,
  write: !a["no-write"] && (a.write ?? !a.quick),
}));

interface Node {
  name: string;
  server: HttpServer;
  sipPort: number;
}

/** Node `name` on the schema of `databaseUrl`, with the deployment's shared keys. */
async function startNode(name: string, dir: string, databaseUrl: string, shared: Record<string, string>) {
  const [sipPort, httpPort] = [await freeSipPort(), (await proc.freePort()) as number];
  const env = proc.sipextEnv(join(dir, `node-${name}`), sipPort, httpPort, {
    ...shared,
    DATABASE_URL: databaseUrl,
    SIPEXT_SIP_ADVERTISED_HOST: "127.0.0.1",
    // Deleted extensions answer 403/404 to the polling phone: this machine is never banned.
    SIPEXT_SIP_TRUSTED_SOURCES: "127.0.0.1",
  });
  const server = await startHttpServer(`node-${name}`, env, name === "A");
  log(`node ${name}: pid ${server.child.pid}, HTTP ${server.origin}, SIP udp+tcp 127.0.0.1:${sipPort}`);
  return { name, server, sipPort } satisfies Node;
}

/** ms from `since` until `seen()` is true (polled every --poll-ms), bounded by 10 s. */
async function timeUntil(since: number, what: string, seen: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (await seen()) return performance.now() - since;
    if (performance.now() - since > 10_000) throw new Error(`${what}: not seen within 10 s`);
    if (o.pollMs) await proc.sleep(o.pollMs);
  }
}

type Times = { listed: number[]; unregistered: number[]; refused: number[]; unlisted: number[] };

async function trials(a: Node, b: Node, token: string): Promise<Times> {
  const times: Times = { listed: [], unregistered: [], refused: [], unlisted: [] };
  const contacts = async (n: Node, id: string) => {
    const r = await callApi<{ result?: unknown[] }>(n.server.origin, `GET /v1.0/extensions/${id}/contacts`, {
      token,
    });
    return r.status === 200 ? (r.body.result?.length ?? 0) : -r.status;
  };
  for (let i = 0; i < o.trials; i++) {
    const password = `Pw-${randomBytes(8).toString("hex")}`;
    const extension = `nb${i}x${randomBytes(2).toString("hex")}`;
    const body = { extension, password };
    const ext = await call200<{ id: string; domain_name: string }>(a.server.origin, "POST /v1.0/extensions", {
      token,
      body,
    });
    const opts = { sipPort: b.sipPort, domain: ext.domain_name, ext: extension, password, expires: 3600 };
    const phone = await RawPhone.open(opts, await udpChannel(b.sipPort));
    try {
      const registered = async () => {
        const r = await phone.registerWithDigest();
        if (!r.startsWith("SIP/2.0 200")) throw new Error(`REGISTER at B: ${r.split("\r\n")[0]}`);
        return performance.now();
      };
      // 1. registered at B → listed at A
      let t = await registered();
      times.listed.push(await timeUntil(t, "listed at A", async () => (await contacts(a, ext.id)) > 0));
      // 2. force-unregister at A → gone from B
      await call200(a.server.origin, `DELETE /v1.0/extensions/${ext.id}/contacts`, { token });
      t = performance.now();
      times.unregistered.push(
        await timeUntil(t, "unlisted at B", async () => (await contacts(b, ext.id)) === 0),
      );
      // 3. registered again at B, listed at A, then the extension deleted at A → B refuses the phone
      t = await registered();
      await timeUntil(t, "listed at A again", async () => (await contacts(a, ext.id)) > 0);
      await call200(a.server.origin, `DELETE /v1.0/extensions/${ext.id}`, { token });
      t = performance.now();
      const refused = async () => !(await phone.registerWithDigest()).startsWith("SIP/2.0 200");
      times.refused.push(await timeUntil(t, "refused at B", refused));
      times.unlisted.push(await timeUntil(t, "API of B", async () => (await contacts(b, ext.id)) <= 0));
    } finally {
      await phone.close();
    }
    if ((i + 1) % 50 === 0) log(`  ${i + 1}/${o.trials} trials`);
  }
  return times;
}

const summary = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return { n: s.length, p50: quantileOf(s, 0.5), p95: quantileOf(s, 0.95), max: s.at(-1) ?? Number.NaN };
};
const ms = (v: number) => (Number.isNaN(v) ? "n/a" : v < 10 ? v.toFixed(1) : v.toFixed(0));

const ROWS: Array<[keyof Times, string]> = [
  ["listed", "registered at B (200 to the phone) → listed by A's contacts API"],
  ["unregistered", "`DELETE …/contacts` at A (its 200) → no longer listed by B's contacts API"],
  ["refused", "`DELETE /v1.0/extensions/{id}` at A (its 200) → B refuses the phone's REGISTER with digest"],
  ["unlisted", "the same delete → B's contacts API no longer lists it (after the refusal above)"],
];

proc.runBenchmark("nodes", log, o.keep, async (dir) => {
  const postgres = await pgVersion();
  const start = await loadAtStart(log);
  const databaseUrl = newSchemaUrl("nodes");
  const shared = {
    SIPEXT_JWT_SECRET: randomBytes(32).toString("hex"),
    SIPEXT_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
    // The polls are API requests back to back: the customer's limit (50/s) would answer 429.
    SIPEXT_RATE_LIMIT_IP: "0",
    SIPEXT_RATE_LIMIT_CUSTOMER: "0",
  };
  let times: Times;
  try {
    // A first: it migrates the schema and creates the admin; then B on the same schema.
    const a = await startNode("A", dir, databaseUrl, shared);
    const b = await startNode("B", dir, databaseUrl, shared);
    const token = await loginAdmin(a.server.origin, a.server.password as string);
    log(`${o.trials} trials, polling every ${o.pollMs} ms`);
    const began = performance.now();
    times = await trials(a, b, token);
    log(`trials done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
    await b.server.child.stop();
    await a.server.child.stop();
  } finally {
    await dropSchema(databaseUrl);
  }
  const m = machine();
  const rows = ROWS.map(([k, what]) => {
    const s = summary(times[k]);
    const verdict = s.max <= TARGET_MS ? "met" : "**not met**";
    return [what, fmt(s.n), ms(s.p50), ms(s.p95), ms(s.max), verdict];
  });
  for (const r of rows) log(`${r[0]}: n ${r[1]} p50 ${r[2]} ms p95 ${r[3]} ms max ${r[4]} ms (${r[5]})`);
  const section = sectionOf("nodes", [
    "## Two nodes on one PostgreSQL (npm run bench:nodes)",
    "",
    `- Command: \`${commandLineOf("nodes")}\``,
    `- Date: ${m.date}`,
    `- Machine: ${m.nproc} cores (${m.cpu}), ${m.ramGiB} GiB RAM, Linux ${m.kernel}, node ${m.node}, ${postgres} on the same machine.`,
    `- Load: ${start.busy} % of all cores busy when the run started (load average ${start.load})` +
      `${start.others.length ? `; busy elsewhere: ${start.others.map((l) => `\`${l.slice(0, 90)}\``).join(", ")}` : ""}.`,
    `- Set-up: two sipext processes (\`dist/cli/main.js serve\` as \`npm start\` runs it, one core each at most) on one schema (\`${schemaOf(databaseUrl)}\`, dropped after), ` +
      "the same `SIPEXT_JWT_SECRET` and `SIPEXT_ENCRYPTION_KEY`, API rate limits off (the polls), each its own HTTP and SIP ports. Each trial creates an extension at A " +
      "and registers a phone at B (a REGISTER → 401 → REGISTER with MD5 digest over UDP, `test/e2e/raw-phone.ts`).",
    `- Each time runs from the acknowledgement of the change (the 200 the phone got, or the 200 of the DELETE) to the first poll ` +
      `of the other node that shows it; a poll is one HTTP request (or one REGISTER with digest), ${o.pollMs} ms apart, so the ` +
      "times include up to one poll's round trip.",
    "",
    `Propagation between the nodes (${fmt(o.trials)} trials; CONTRACT §15: within ${fmt(TARGET_MS)} ms):`,
    "",
    ...markdownTable("lrrrrc", [
      ["change → seen at the other node", "trials", "p50 ms", "p95 ms", "max ms", "≤ 1 s"],
      ...rows,
    ]),
    "",
    "How: the node a phone registers at answers from its memory and writes the binding behind (batches every 20 ms); once " +
      "the batch is committed it sends the batch's changes (the bindings themselves) by `NOTIFY` on the schema's channel; " +
      "the other nodes put them in their memory. A force-unregister and a delete travel the same way. A REGISTER for a " +
      "deleted extension is refused at once anywhere: every node caches extensions and drops them at the `NOTIFY` a " +
      "trigger sends at each commit that changes one.",
  ]);
  recordSection(log, "nodes", o.write ? section : undefined);
});
