// GET /metrics with SIPEXT_WORKERS=2 (CONTRACT §12, §15): the cluster deals each connection to
// one worker, yet every scrape answers for both — the primary aggregates them — so a counter is
// the deployment's total whichever worker a scrape lands on, and never goes back.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Served, serve } from "../helpers/cli.js";
import { DATABASES, dropSchema, newSchemaUrl, removeDir } from "../helpers/harness.js";

/** The value of one sample in Prometheus' text format (0 when absent). */
function sample(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

describe.runIf(DATABASES.includes("postgres"))("metrics of two workers (SIPEXT_WORKERS=2)", () => {
  let served: Served;
  const databaseUrl = newSchemaUrl();
  const dataDir = mkdtempSync(join(tmpdir(), "sipext-worker-metrics-"));

  beforeAll(async () => {
    served = await serve(
      { SIPEXT_WORKERS: "2", DATABASE_URL: databaseUrl, SIPEXT_DATA_DIR: dataDir },
      120_000,
    );
    await served.waitFor(/sipext serving with 2 workers/, 120_000);
  }, 180_000);

  afterAll(async () => {
    await served?.stop();
    await dropSchema(databaseUrl);
    removeDir(dataDir);
  });

  it("every scrape, on whichever worker, counts the requests both workers answered", async () => {
    const url = `http://127.0.0.1:${served.port}`;
    const n = 8;
    // A connection each (no keep-alive), so the cluster deals them to both workers.
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${url}/health/live`, { headers: { connection: "close" } });
      expect(res.status).toBe(200);
    }
    // Both workers answered some of them (each logs its requests with its pid).
    const pids = new Set(
      served
        .output()
        .stdout.split("\n")
        .filter((l) => l.includes('"route":"/health/live"'))
        .map((l) => /"pid":(\d+)/.exec(l)?.[1]),
    );
    expect(pids.size).toBe(2);
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${url}/metrics`, { headers: { connection: "close" } });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(sample(text, "sipext_http_requests_total", 'route="/health/live",code_class="2xx"')).toBe(n);
      // The process's own metrics are aggregated too: two workers' heaps, one figure.
      expect(text).toContain("nodejs_heap_size_used_bytes");
    }
  }, 60_000);
});
