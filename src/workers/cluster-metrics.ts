// GET /metrics with SIPEXT_WORKERS > 1 (CONTRACT §12, §15): the cluster deals a scrape's
// connection to any one worker, so each worker answers with every worker's metrics, aggregated
// by the primary (prom-client's AggregatorRegistry: counters and histograms summed; gauges as
// each declares — sipext_bindings and sipext_sip_bans, which every worker knows whole, by max).
// Without it a scrape would see one worker's counters and then another's, and Prometheus would
// read every switch as a counter reset.
import cluster from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";

/** worker → primary: aggregate every worker's metrics; primary → worker: the text, or an error */
const SCRAPE = "sipext-metrics-scrape";
const SCRAPED = "sipext-metrics-scraped";
/** prom-client gives up on a worker that does not answer after 5 s; the asking worker waits longer */
const WAIT_MS = 6_000;

interface ScrapeMessage {
  kind?: string;
  id?: number;
  text?: string;
  error?: string;
}

/** In the primary: answers the workers' scrapes with the aggregate of all of them. */
export function aggregateWorkerMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker, m: ScrapeMessage) => {
    if (m?.kind !== SCRAPE) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ kind: SCRAPED, id: m.id, text }),
      (err: Error) => worker.isConnected() && worker.send({ kind: SCRAPED, id: m.id, error: err.message }),
    );
  });
}

/**
 * In a worker: offers `registry` to the primary's aggregation and returns the scrape that asks
 * the primary for the aggregate. Undefined outside a cluster (the registry alone is served).
 */
export function clusterScrape(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined;
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one makes prom-client answer the primary's requests for this worker's metrics.
  new AggregatorRegistry();
  let next = 0;
  const waiting = new Map<number, (m: ScrapeMessage) => void>();
  process.on("message", (m: ScrapeMessage) => {
    if (m?.kind === SCRAPED && m.id !== undefined) waiting.get(m.id)?.(m);
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error("the primary did not aggregate the workers' metrics in time"));
      }, WAIT_MS);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (m.text !== undefined) resolve(m.text);
        else reject(new Error(`metrics aggregation failed: ${m.error ?? "unknown"}`));
      });
      process.send?.({ kind: SCRAPE, id });
    });
}
