// The SIP families of CONTRACT §12, filled through the SIP core's observer (src/sip/observer.ts)
// and the seams of the composition (registrar outcomes, digest failures, call records). Per
// message the cost is one array increment: counts are kept as plain numbers and handed to
// prom-client only when scraped (its labelled inc() hashes the labels on every call).
import { Counter, Gauge, type LabelValues, type Registry } from "prom-client";
import type { Metrics } from "../metrics.js";
import { SIP_METHODS, type SipMethodLabel, type SipObserver } from "../sip/observer.js";
import type { CallResult } from "../sip/proxy/call-events.js";
import type { SipStats } from "../sip/stack.js";
import { TRANSPORTS, type TransportName } from "../sip/transport/flow.js";

const METHODS: readonly SipMethodLabel[] = [...SIP_METHODS, "other"];
const METHOD_INDEX = new Map<SipMethodLabel, number>(METHODS.map((m, i) => [m, i]));
const OTHER = METHODS.length - 1;
const TRANSPORT_INDEX = new Map<TransportName, number>(TRANSPORTS.map((t, i) => [t, i]));
const CODE_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"] as const;
const REGISTRATION_RESULTS = ["ok", "unauthorized", "rejected", "error"] as const;
/** sipext_registrations_total{result} by the REGISTER's final status; any other is "rejected" */
const REGISTRATION_INDEX: Record<number, number> = { 200: 0, 401: 1, 500: 3 };
/** sipext_sip_dropped_total{reason}: what SipStats counts, by the reason's name */
const DROPPED = {
  banned: "banned",
  unparseable: "garbage",
  overloaded: "overloaded",
  connection_refused: "refused",
} as const satisfies Record<string, keyof SipStats>;

/** A counter kept in plain numbers; each scrape adds what is new to the prom-client counter. */
class Tally<L extends string> {
  private readonly counts: Float64Array;
  private readonly told: Float64Array;
  constructor(
    config: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] },
    labels: LabelValues<L>[],
  ) {
    this.counts = new Float64Array(labels.length);
    this.told = new Float64Array(labels.length);
    const told = this.told;
    const counts = this.counts;
    new Counter<L>({
      ...config,
      collect() {
        for (let i = 0; i < counts.length; i++) {
          const fresh = (counts[i] ?? 0) - (told[i] ?? 0);
          if (fresh > 0) {
            this.inc(labels[i] ?? {}, fresh);
            told[i] = counts[i] ?? 0;
          }
        }
      },
    });
  }
  add(i: number): void {
    this.counts[i] = (this.counts[i] ?? 0) + 1;
  }
}

/** Every combination of two label lists, in row order (first × second). */
function grid<A extends string, B extends string>(a: A, as: readonly string[], b: B, bs: readonly string[]) {
  return as.flatMap((x) => bs.map((y) => ({ [a]: x, [b]: y }) as LabelValues<A | B>));
}

export interface SipMetrics extends SipObserver {
  /** A REGISTER's final status (CONTRACT §12: sipext_registrations_total{result}). */
  registration(status: number): void;
  authFailed(kind: "register" | "invite"): void;
  callStarted(): void;
  callEnded(result: CallResult): void;
  /** What is read at each scrape: the stack's drop counts, live bindings, banned sources. */
  watch(sources: { stats: SipStats; bindings(): number; bans(): number }): void;
}

export function sipMetrics(metrics: Metrics): SipMetrics {
  const registers = [metrics.registry];
  let sources: { stats: SipStats; bindings(): number; bans(): number } | undefined;
  const received = new Tally(
    {
      name: "sipext_sip_requests_received_total",
      help: "SIP requests received, retransmissions included, by method (unknown methods: other) and transport",
      labelNames: ["method", "transport"],
      registers,
    },
    grid("method", METHODS, "transport", TRANSPORTS),
  );
  const sent = new Tally(
    {
      name: "sipext_sip_responses_sent_total",
      help: "SIP responses sent, by the method of their request and status class",
      labelNames: ["method", "code_class"],
      registers,
    },
    grid("method", METHODS, "code_class", CODE_CLASSES),
  );
  const registrations = new Tally(
    {
      name: "sipext_registrations_total",
      help: "REGISTER requests answered, by result: ok (200), unauthorized (401), rejected (another 4xx), error (500)",
      labelNames: ["result"],
      registers,
    },
    REGISTRATION_RESULTS.map((result) => ({ result })),
  );
  const droppedSeen: Record<string, number> = {};
  new Counter({
    name: "sipext_sip_dropped_total",
    help: "SIP messages and connections dropped: from banned sources, unparseable, refused while overloaded (503), connections over the per-source limit",
    labelNames: ["reason"],
    registers,
    collect() {
      if (!sources) return;
      for (const [reason, field] of Object.entries(DROPPED)) {
        const now = sources.stats[field];
        const fresh = now - (droppedSeen[reason] ?? 0);
        droppedSeen[reason] = now;
        // Zero too, so every reason is a series from the first scrape on.
        this.inc({ reason }, Math.max(0, fresh));
      }
    },
  });
  new Gauge({
    name: "sipext_bindings",
    help: "Live registrations (contacts) known to this node: with several nodes on one database, every node knows every binding (take max, not sum)",
    registers,
    // SIPEXT_WORKERS: every worker knows them all (src/workers/cluster-metrics.ts).
    aggregator: "max",
    collect() {
      if (sources) this.set(sources.bindings());
    },
  });
  new Gauge({
    name: "sipext_sip_bans",
    help: "Source addresses banned now (CONTRACT §14); bans hold on every node (take max, not sum)",
    registers,
    aggregator: "max",
    collect() {
      if (sources) this.set(sources.bans());
    },
  });
  const calls = new Counter({
    name: "sipext_calls_total",
    help: "Calls ended, by result (answered, busy, declined, no_answer, canceled, unavailable, failed)",
    labelNames: ["result"],
    registers,
  });
  const active = new Gauge({
    name: "sipext_calls_active",
    help: "Calls started through this node and not yet ended, less those it ended for other nodes: sum over nodes",
    registers,
  });
  const authRegister = metrics.authFailures.labels("register");
  const authInvite = metrics.authFailures.labels("invite");
  return {
    requestReceived(method, transport) {
      const t = TRANSPORT_INDEX.get(transport) ?? 0;
      received.add((METHOD_INDEX.get(method) ?? OTHER) * TRANSPORTS.length + t);
    },
    responseSent(method, statusClass) {
      if (statusClass < 1 || statusClass > 6) return;
      sent.add((METHOD_INDEX.get(method) ?? OTHER) * CODE_CLASSES.length + statusClass - 1);
    },
    registration(status) {
      registrations.add(REGISTRATION_INDEX[status] ?? 2);
    },
    authFailed(kind) {
      (kind === "register" ? authRegister : authInvite).inc();
    },
    callStarted() {
      active.inc();
    },
    callEnded(result) {
      calls.inc({ result });
      active.dec();
    },
    watch(s) {
      sources = s;
    },
  };
}
