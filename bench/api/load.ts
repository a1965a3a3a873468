// The load generator: runs autocannon (warm-up, then the measurement) in its own process, so the
// server under test never shares a process, an event loop or a heap with it. Usage:
//   node --import tsx bench/api/load.ts '<LoadSpec as JSON>'
// Prints MEASURING_LINE when the warm-up is over, then RESULT_PREFIX + LoadResult as JSON.
import autocannon, { type Request, type Result } from "autocannon";
import { type LoadResult, type LoadSpec, MEASURING_LINE, RESULT_PREFIX } from "./protocol.js";

const spec = JSON.parse(process.argv[2] ?? "") as LoadSpec;

let sequence = 0;

function requests(): Parameters<typeof autocannon>[0]["requests"] {
  const headers: Record<string, string> = { ...spec.headers };
  const base: Request = { method: spec.method, path: spec.path, headers };
  if (spec.body === undefined) return [base];
  headers["content-type"] = "application/json";
  const template = spec.body;
  const prefix = spec.uniqueExtensionPrefix;
  if (prefix === undefined) return [{ ...base, body: JSON.stringify(template) }];
  // A fresh extension name for every request, warm-up included: the POST never collides (409).
  return [
    {
      ...base,
      setupRequest: (req: Request) => {
        sequence += 1;
        return {
          ...req,
          body: JSON.stringify({ ...template, extension: `${prefix}${sequence.toString(36)}` }),
        };
      },
    },
  ];
}

function run(duration: number): Promise<Result> {
  return autocannon({
    url: spec.origin,
    connections: spec.connections,
    pipelining: 1,
    duration,
    timeout: 10,
    requests: requests(),
  });
}

function summarize(r: Result): LoadResult {
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats)) statusCodes[code] = s.count;
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    avg: r.latency.average,
    total: r.requests.total,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statusCodes,
  };
}

if (spec.warmup > 0) await run(spec.warmup);
// The orchestrator samples the server's CPU time now and at the result: CPU per request.
process.stdout.write(`${MEASURING_LINE}\n`);
const result = summarize(await run(spec.duration));
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
process.exit(0);
