// What GET /health/ready checks (CONTRACT §12): the database answers, and every listener this
// node is configured with is bound — HTTP (which also carries SIP over WebSocket), SIP UDP and
// TCP, and with TLS also HTTPS (and WSS) and SIP over TLS. A node that is stopping is not ready,
// so a load balancer stops sending it new work while it drains.
import type { HttpListeners } from "./api/listeners.js";
import type { SipServer } from "./sip/stack.js";
import { type Db, databaseAnswers } from "./store/db.js";

export interface ReadinessParts {
  db: Db;
  tls: boolean;
  /** the listeners once started (undefined before) */
  http(): HttpListeners | undefined;
  sip(): SipServer | undefined;
  stopping(): boolean;
}

/** The names of what is not ready; empty when the node can serve. */
export function readiness(p: ReadinessParts): () => Promise<string[]> {
  return async () => {
    const failing: string[] = [];
    if (p.stopping()) failing.push("stopping");
    if (!(await databaseAnswers(p.db))) failing.push("database");
    const web = p.http()?.listening();
    const sip = p.sip()?.listening();
    const bound: Record<string, boolean | undefined> = {
      http: web?.http,
      ...(p.tls ? { https: web?.https } : {}),
      sip_udp: sip?.UDP,
      sip_tcp: sip?.TCP,
      ...(p.tls ? { sip_tls: sip?.TLS } : {}),
    };
    for (const [name, ok] of Object.entries(bound)) if (!ok) failing.push(name);
    return failing;
  };
}
