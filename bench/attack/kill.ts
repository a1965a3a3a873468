// bench:attack, part 7: kill -9 while a client creates extensions through the REST API. A sipext of
// its own (embedded SQLite) is started, `clients` concurrent clients
// create extensions, and the process gets SIGKILL at a random moment (seeded); it is started again
// on the same data dir, and every create it had answered 200 must be listed. Repeated `rounds`
// times; the restart time is from the spawn until the API answers (tsx compiling the sources
// included, as in every start of `src/cli/main.ts`).
import { join } from "node:path";
import { prng } from "../../test/sip/message/mutate.js";
import { markdownTable } from "../benchmarks-md.js";
import * as proc from "../proc.js";
import { fmt } from "../ramp-report.js";
import { callApi, freeSipPort, loginAdmin, startHttpServer } from "../sipext-http.js";
import { byStatus } from "./overload.js";
import { hex } from "./sip-udp.js";
import { tally } from "./target.js";

const log = proc.logger("bench:attack");

export type KillSettings = { rounds: number; clients: number; minMs: number; maxMs: number; seed: number };
export type KillReport = Awaited<ReturnType<typeof killRounds>>;

type Round = {
  round: number;
  killAfterMs: number;
  acknowledged: number;
  failed: Record<string, number>;
  found: number;
  lost: number;
  restartMs: number;
};

/** The ids of every extension listed, page after page. */
async function listedIds(origin: string, token: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let pageToken = "";
  for (let page = 0; page < 10_000; page++) {
    const query = `page_size=100${pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : ""}`;
    const r = await callApi<{ result: Array<{ id: string }>; next_page_token?: string }>(
      origin,
      `GET /v1.0/extensions?${query}`,
      { token },
    );
    if (r.status !== 200) throw new Error(`GET /v1.0/extensions → ${r.status}`);
    for (const e of r.body.result) ids.add(e.id);
    if (!r.body.next_page_token || r.body.result.length === 0) break;
    pageToken = r.body.next_page_token;
  }
  return ids;
}

export async function killRounds(dir: string, s: KillSettings) {
  const rnd = prng(s.seed);
  const [sipPort, httpPort] = [await freeSipPort(), (await proc.freePort()) as number];
  // The API rate limits off: the clients write as fast as sipext answers (429s would be no writes).
  const limits = { SIPEXT_RATE_LIMIT_IP: "0", SIPEXT_RATE_LIMIT_CUSTOMER: "0" };
  const env = proc.sipextEnv(join(dir, "kill-data"), sipPort, httpPort, limits);
  let password = "";
  const start = async (label: string) => {
    const t0 = performance.now();
    // The first start prints the admin's password once its listeners are bound (CONTRACT §14).
    const server = await startHttpServer(label, env, password === "");
    password ||= server.password as string;
    return { server, ms: performance.now() - t0, token: await loginAdmin(server.origin, password) };
  };
  const rounds: Round[] = [];
  const acknowledged: string[] = [];
  let current = await start("sipext-kill-1");
  for (let round = 1; round <= s.rounds; round++) {
    const { server, token } = current;
    const before = acknowledged.length;
    const failed: Array<number | string> = [];
    let killed = false;
    let n = 0;
    const client = async () => {
      while (!killed) {
        const body = { extension: `k${round}x${n++}`, password: `Pw-${hex(6)}` };
        const r = await callApi<{ id: string }>(server.origin, "POST /v1.0/extensions", {
          token,
          body,
        }).catch(() => undefined);
        if (r?.status === 200) acknowledged.push(r.body.id);
        else failed.push(r?.status ?? "no answer");
      }
    };
    const clients = Array.from({ length: s.clients }, client);
    const killAfterMs = Math.round(s.minMs + rnd(s.maxMs - s.minMs));
    await proc.sleep(killAfterMs);
    server.child.proc.kill("SIGKILL");
    killed = true;
    await proc.within(30_000, "the clients after the kill", Promise.all(clients));
    await server.child.exited;
    current = await start(`sipext-kill-${round + 1}`);
    const listed = await listedIds(current.server.origin, current.token);
    const lost = acknowledged.filter((id) => !listed.has(id)).length;
    const r = {
      round,
      killAfterMs,
      acknowledged: acknowledged.length - before,
      failed: tally(failed),
      found: acknowledged.length - lost,
      lost,
      restartMs: current.ms,
    };
    rounds.push(r);
    log(
      `kill -9 round ${round}: killed after ${killAfterMs} ms, ${r.acknowledged} creates acknowledged (not: ${JSON.stringify(r.failed)}), ` +
        `restart ${(r.restartMs / 1000).toFixed(1)} s, ${fmt(r.found)} of ${fmt(acknowledged.length)} acknowledged so far listed, ${lost} lost`,
    );
  }
  await current.server.child.stop();
  return { rounds, acknowledged: acknowledged.length, lost: rounds.at(-1)?.lost ?? 0 };
}

export function killLines(k: KillReport, s: KillSettings): string[] {
  const restarts = k.rounds.map((r) => r.restartMs / 1000);
  return [
    `### kill -9 (${s.rounds} rounds, ${s.clients} clients creating extensions, SIGKILL ${s.minMs}–${s.maxMs} ms into each round)`,
    "",
    "A sipext of its own on embedded SQLite, its API rate limits off (`SIPEXT_RATE_LIMIT_IP=0`, `SIPEXT_RATE_LIMIT_CUSTOMER=0`). Each round: the clients `POST /v1.0/extensions` back to back until sipext is killed " +
      "with SIGKILL at a random moment (seeded), some creates in flight; then `dist/cli/main.js serve` (as `npm start` runs it) is started again on the same " +
      "data dir (restart: spawn until the API answers, tsx's compilation included) and `GET /v1.0/extensions` is read page by page: " +
      "every create answered 200 so far, in every round, must be listed.",
    "",
    ...markdownTable("rrrrrrr", [
      [
        "round",
        "killed after ms",
        "acknowledged",
        "not acknowledged",
        "listed after restart (all rounds)",
        "lost",
        "restart s",
      ],
      ...k.rounds.map((r) => [
        String(r.round),
        fmt(r.killAfterMs),
        fmt(r.acknowledged),
        byStatus(r.failed),
        fmt(r.found),
        String(r.lost),
        (r.restartMs / 1000).toFixed(1),
      ]),
    ]),
    "",
    `**${fmt(k.lost)} of ${fmt(k.acknowledged)} acknowledged writes lost** (target 0); restart ` +
      `${Math.min(...restarts).toFixed(1)}–${Math.max(...restarts).toFixed(1)} s.`,
  ];
}
