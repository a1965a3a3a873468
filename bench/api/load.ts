// The load generator: runs autocannon (warm-up, then the measurement) in its own process, so the
// server under test never shares a process, an event loop or a heap with it. Usage:
//   node --import tsx bench/api/load.ts '<LoadSpec as JSON>'
// Prints MEASURING_LINE when the warm-up is over, then its LoadResult.
import autocannon, { type Request, type Result } from "autocannon";
import { printResult } from "../proc.js";
import { type LoadResult, type LoadSpec, MEASURING_LINE } from "./protocol.js";

const spec = JSON.parse(process.argv[2] ?? "") as LoadSpec;
/** across the warm-up and the measurement, so that no extension name comes twice */
let sequence = 0;

function request(): Request & { setupRequest?: (req: Request) => Request } {
  const json: Record<string, string> = spec.body === undefined ? {} : { "content-type": "application/json" };
  const base = { method: spec.method, path: spec.path, headers: { ...spec.headers, ...json } };
  const { body, uniqueExtensionPrefix: prefix } = spec;
  if (body === undefined) return base;
  if (prefix === undefined) return { ...base, body: JSON.stringify(body) };
  // A fresh extension name for every request, warm-up included: the POST never collides (409).
  const fresh = () => JSON.stringify({ ...body, extension: `${prefix}${(++sequence).toString(36)}` });
  return { ...base, setupRequest: (req) => ({ ...req, body: fresh() }) };
}

const run = (duration: number): Promise<Result> =>
  autocannon({
    url: spec.origin,
    connections: spec.connections,
    pipelining: 1,
    duration,
    timeout: 10,
    requests: [request()],
  });

function summarize(r: Result): LoadResult {
  const statusCodes = Object.fromEntries(
    Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count]),
  );
  const { errors, timeouts, non2xx } = r;
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    total: r.requests.total,
    errors,
    timeouts,
    non2xx,
    statusCodes,
  };
}

if (spec.warmup > 0) await run(spec.warmup);
// The orchestrator samples the server's CPU time now and at the result: CPU per request.
process.stdout.write(`${MEASURING_LINE}\n`);
printResult(summarize(await run(spec.duration)));
process.exit(0);
