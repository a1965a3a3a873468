// A sipext server of a benchmark as an operator runs it (`dist/cli/main.js serve`, as `npm start` does, its own process)
// and the JSON calls made to its REST API (set-up and polling; the load itself is autocannon's).
import * as proc from "./proc.js";

export interface HttpServer {
  child: proc.Child;
  origin: string;
  /** the first-run admin's password, when this start created the admin */
  password: string | undefined;
}

/**
 * Starts sipext with `env` (from proc.sipextEnv, its HTTP port given: SIPEXT_LOG_LEVEL=warn does
 * not log the port) and resolves once its API answers; with `firstRun`, also with the first-run
 * admin password it prints.
 */
export async function startHttpServer(
  label: string,
  env: NodeJS.ProcessEnv,
  firstRun: boolean,
  nodeArgs: string[] = [],
  /** how long the start may take (first-run password, then the API answering) */
  boundMs = 60_000,
): Promise<HttpServer> {
  const child = proc.nodeChild(label, ["src/cli/main.ts", "serve"], { env, nodeArgs });
  const origin = `http://127.0.0.1:${env.SIPEXT_HTTP_PORT}`;
  const password = firstRun
    ? await child.waitFor((l) => /^\s*password:\s+(\S+)\s*$/.exec(l)?.[1], boundMs, "first-run password")
    : undefined;
  const answers = () =>
    fetch(`${origin}/openapi.json`, { signal: AbortSignal.timeout(2_000) }).then(Boolean, () => false);
  const listening = async () => {
    while (!(await answers())) {
      if (!child.running) throw child.failure("exited during start-up");
      await proc.sleep(100);
    }
  };
  await proc.within(boundMs, `${label} start`, listening());
  return { child, origin, password };
}

/** A JSON call: `request` is "METHOD /path"; the status and the parsed body (undefined when not JSON). */
export async function callApi<T>(
  origin: string,
  request: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const [method, path] = request.split(" ") as [string, string];
  const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const res = await fetch(`${origin}${path}`, { method, headers, body, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed as T };
}

/** callApi that must answer 200. */
export async function call200<T>(
  origin: string,
  request: string,
  opts: { token?: string; body?: unknown } = {},
) {
  const r = await callApi<T>(origin, request, opts);
  if (r.status !== 200) throw new Error(`${request} → ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

export const loginAdmin = async (origin: string, password: string) =>
  (await call200<{ token: string }>(origin, "POST /auth/login", { body: { username: "admin", password } }))
    .token;

/** A free port of 127.0.0.1 for both TCP and UDP. */
export async function freeSipPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await proc.freePort();
    if (p !== undefined && (await proc.freePort(p)) !== undefined) return p;
  }
  throw new Error("no free port for both TCP and UDP on 127.0.0.1");
}

/** The value at quantile q (0..1) of sorted numbers (nearest rank). */
export function quantileOf(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}
