// What the parts of bench:attack share: the loopback addresses they play, the sipext under attack
// (started as an operator runs it, `dist/cli/main.js serve` as `npm start` does, its own process) and its extensions.
import { join } from "node:path";
import * as proc from "../proc.js";
import { call200, freeSipPort, loginAdmin, startHttpServer } from "../sipext-http.js";
import { hex } from "./sip-udp.js";

/** Legitimate phones use LEGIT (SIPEXT_SIP_TRUSTED_SOURCES); each attacker another 127/8 address. */
export const LEGIT = "127.0.0.1";
/** (not 127.0.0.2: its ban, 900 s, would drop the TCP phone) */
export const GUESSER = "127.0.0.7";
export const PROBER = "127.0.0.3";
export const FLOODER = "127.0.0.4";
/** The TCP phone of the idle-connection attack (issue #12 puts it on 127.0.0.2) and its attacker. */
export const TCP_PHONE = "127.0.0.2";
export const IDLER = "127.0.0.5";
export const FUZZER = "127.0.0.6";
export const DIRECT_DOMAIN = "direct.example.test";

export type Target = { sipPort: number; domain: string; pid: number; origin: string; token: string };
export type Ext = { id: string; ext: string; password: string; hash: string };

export const rssMiB = (pid: number) => proc.treeMemKb(pid).rssKb / 1024;

/** A sipext on free ports with a fresh data dir under `dir`, its admin logged in. */
export async function startTarget(dir: string, name: string, extra: Record<string, string> = {}) {
  const [sipPort, httpPort] = [await freeSipPort(), (await proc.freePort()) as number];
  const env = proc.sipextEnv(join(dir, name), sipPort, httpPort, {
    SIPEXT_SIP_TRUSTED_SOURCES: LEGIT,
    SIPEXT_DIRECT_DOMAIN: DIRECT_DOMAIN,
    ...extra,
  });
  const server = await startHttpServer(name, env, true);
  const token = await loginAdmin(server.origin, server.password as string);
  return { server, env, sipPort, pid: server.child.pid, origin: server.origin, token };
}

/** A new extension with a random password, through the API. */
export async function extension(t: { origin: string; token: string }, name: string) {
  const password = `Pw-${hex(8)}`;
  const body = { extension: `${name}${hex(2)}`, password };
  const e = await call200<{ id: string; extension: string; domain_name: string; direct_hash: string }>(
    t.origin,
    "POST /v1.0/extensions",
    { token: t.token, body },
  );
  return { ext: { id: e.id, ext: e.extension, password, hash: e.direct_hash }, domain: e.domain_name };
}

/** Counts of each value, e.g. answers by status. */
export const tally = (values: Array<string | number>) =>
  values.reduce<Record<string, number>>((m, v) => ({ ...m, [v]: (m[String(v)] ?? 0) + 1 }), {});

/** The new requests sipext refused with 503 while overloaded so far (its metric; NaN when unread). */
export async function refusedOverloaded(origin: string): Promise<number> {
  try {
    const res = await fetch(`${origin}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const m = /^sipext_sip_dropped_total\{reason="overloaded"\} (\d+)/m.exec(await res.text());
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
