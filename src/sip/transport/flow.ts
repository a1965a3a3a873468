// What the transports hand up to the stack: bytes of one message and the flow they came on.
import type { SipObserver } from "../observer.js";

/** RFC 3261 §18 (UDP, TCP, TLS) and RFC 7118 (WS, WSS: SIP over WebSocket, plain or secure). */
export const TRANSPORTS = ["UDP", "TCP", "TLS", "WS", "WSS"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** The transport named by a Via's or a URI's transport (any case); undefined for one we lack. */
export function transportNamed(name: string | null | undefined): TransportName | undefined {
  const upper = name?.toUpperCase();
  return (TRANSPORTS as readonly string[]).includes(upper ?? "") ? (upper as TransportName) : undefined;
}

/** Reliable transports (§17: no retransmissions, Timers J/K/I at zero): all but UDP. */
export const isReliable = (t: TransportName): boolean => t !== "UDP";

/** Secure transports: a `sips:` URI may only be used over them (RFC 3261 §26.2.2, RFC 7118 §7). */
export const isSecure = (t: TransportName): boolean => t === "TLS" || t === "WSS";

export interface Flow {
  transport: TransportName;
  /** where the bytes really came from (RFC 3581's "received" and "rport") */
  remoteAddress: string;
  remotePort: number;
  /**
   * Sends bytes back. UDP: to `address:port` (default: the source). TCP, TLS, WebSocket: on the
   * same connection, whatever the address (RFC 3261 §18.2.2: "the response MUST be sent using
   * the existing connection").
   */
  send(data: Buffer, address?: string, port?: number): void;
  /**
   * Set when a binding was registered over this flow: a connection that carries one is a
   * phone's (RFC 5626) and is kept while it is alive; one without is closed when idle.
   */
  bound?: boolean;
}

/** Where a message goes: a transport and an address (a device's flow, RFC 5626 §3). */
export interface FlowAddress {
  transport: TransportName;
  address: string;
  port: number;
}

/**
 * Where this server is reached over each transport it serves: the host it advertises and the
 * port of each (UDP and TCP share one; TLS has its own; WS and WSS are the HTTP and HTTPS ports).
 */
export interface SelfAddress {
  host: string;
  ports: Partial<Record<TransportName, number>>;
}

export type InboundHandler = (data: Buffer, flow: Flow) => void;

/** Counts of what the transports dropped, for logs and tests. */
export interface TransportStats {
  garbage: number;
  /** open connections of every connection-oriented transport (TCP, TLS, WS, WSS) */
  tcpConnections: number;
  /** connections closed at once: a banned source, or too many from one source (§14) */
  refused: number;
  /** told of every response sent (CONTRACT §12), by the transports */
  observer: SipObserver;
}
