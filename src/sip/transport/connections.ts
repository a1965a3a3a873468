// The open connections of the connection-oriented transports (TCP, TLS, WebSocket), by the flow
// they carry (RFC 5626 §3: a flow is a transport, a local and a remote address): a request for a
// device goes back over the connection it registered over, even behind NAT (§5.3).
import type { FlowAddress, TransportName } from "./flow.js";

export interface Connection {
  send(data: Buffer): void;
  close(): void;
}

const keyOf = (transport: TransportName, address: string, port: number) => `${transport}|${address}|${port}`;

/** Who may open a connection (CONTRACT §14): not a banned source, and not too many per source. */
export interface AdmissionPolicy {
  maxPerSource: number;
  isBanned(address: string): boolean;
}

export class Connections {
  private readonly byFlow = new Map<string, Connection>();
  /** open connections per source address, accepted or opened (all transports together) */
  private readonly perSource = new Map<string, number>();

  constructor(
    private readonly policy: AdmissionPolicy = {
      maxPerSource: Number.POSITIVE_INFINITY,
      isBanned: () => false,
    },
  ) {}

  /** May `address` open one more connection? (Refused ones are closed unanswered.) */
  admits(address: string): boolean {
    return !this.policy.isBanned(address) && (this.perSource.get(address) ?? 0) < this.policy.maxPerSource;
  }

  /** Registers an open connection; the function returned forgets it (when it closes). */
  add(transport: TransportName, address: string, port: number, c: Connection): () => void {
    const key = keyOf(transport, address, port);
    this.byFlow.set(key, c);
    this.perSource.set(address, (this.perSource.get(address) ?? 0) + 1);
    let forgotten = false;
    return () => {
      if (forgotten) return;
      forgotten = true;
      if (this.byFlow.get(key) === c) this.byFlow.delete(key);
      const n = (this.perSource.get(address) ?? 1) - 1;
      if (n > 0) this.perSource.set(address, n);
      else this.perSource.delete(address);
    };
  }

  /** Closes every connection from `address` (it was just banned). */
  closeFrom(address: string): void {
    for (const [key, c] of this.byFlow) if (key.split("|")[1] === address) c.close();
  }

  get(target: FlowAddress): Connection | undefined {
    return this.byFlow.get(keyOf(target.transport, target.address, target.port));
  }

  get size(): number {
    return this.byFlow.size;
  }

  closeAll(): void {
    for (const c of this.byFlow.values()) c.close();
    this.byFlow.clear();
  }
}
