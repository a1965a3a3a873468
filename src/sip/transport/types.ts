// What the transports hand up to the stack: bytes of one message and the flow they came on.

export type TransportName = "UDP" | "TCP";

export interface Flow {
  transport: TransportName;
  /** where the bytes really came from (RFC 3581's "received" and "rport") */
  remoteAddress: string;
  remotePort: number;
  /**
   * Sends bytes back. UDP: to `address:port` (default: the source). TCP: on the same connection,
   * whatever the address (RFC 3261 §18.2.2: "the response MUST be sent using the existing connection").
   */
  send(data: Buffer, address?: string, port?: number): void;
}

export type InboundHandler = (data: Buffer, flow: Flow) => void;

/** Counts of what the transports dropped, for logs and tests. */
export interface TransportStats {
  garbage: number;
  tcpConnections: number;
}
