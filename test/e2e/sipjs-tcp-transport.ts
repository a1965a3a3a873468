// A SIP.js Transport that carries SIP over one plain TCP connection (node:net), framed by
// Content-Length (RFC 3261 §18.3). SIP.js ships only a WebSocket transport; this lets the real
// library talk to the registrar's TCP listener. It records every message both ways for tests.
import { createConnection, type Socket } from "node:net";
import { type Core, type Emitter, EmitterImpl, type Transport, TransportState } from "sip.js";
import { cutMessages } from "../sip/raw-sip.js";

export interface TcpTransportOptions {
  host: string;
  port: number;
  /** what goes in the Via sent-protocol (default "TCP") */
  protocol?: string;
}

export class TcpTransport implements Transport {
  readonly protocol: string;
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  /** every message sent and received, in order, for the test to inspect */
  readonly sent: string[] = [];
  readonly received: string[] = [];
  private readonly host: string;
  private readonly port: number;
  private socket: Socket | undefined;
  private _state: TransportState = TransportState.Disconnected;
  private readonly _stateChange = new EmitterImpl<TransportState>();
  private connecting: Promise<void> | undefined;
  private inbound: Buffer = Buffer.alloc(0);

  constructor(_logger: Core.Logger, options: TcpTransportOptions) {
    this.host = options.host;
    this.port = options.port;
    this.protocol = options.protocol ?? "TCP";
  }

  get state(): TransportState {
    return this._state;
  }

  get stateChange(): Emitter<TransportState> {
    return this._stateChange;
  }

  /** the client's own port: what the registrar must record as the contact's source */
  get localPort(): number | undefined {
    return this.socket?.localPort;
  }

  isConnected(): boolean {
    return this._state === TransportState.Connected;
  }

  connect(): Promise<void> {
    if (this._state === TransportState.Connected) return Promise.resolve();
    if (this._state === TransportState.Connecting && this.connecting) return this.connecting;
    this.transition(TransportState.Connecting);
    this.connecting = new Promise<void>((resolve, reject) => {
      const socket = createConnection({ host: this.host, port: this.port });
      this.socket = socket;
      socket.setNoDelay(true);
      let connected = false;
      socket.once("connect", () => {
        connected = true;
        this.connecting = undefined;
        this.transition(TransportState.Connected);
        resolve();
      });
      socket.on("data", (chunk: Buffer) => this.receive(chunk));
      socket.on("error", (err) => {
        if (!connected) {
          this.connecting = undefined;
          this.socket = undefined;
          this.transition(TransportState.Disconnected);
          reject(err);
        }
      });
      socket.on("close", () => {
        if (this.socket !== socket) return;
        this.socket = undefined;
        if (!connected) return;
        const requested = this._state === TransportState.Disconnecting;
        this.transition(TransportState.Disconnected, requested ? undefined : new Error("connection closed"));
      });
    });
    return this.connecting;
  }

  disconnect(): Promise<void> {
    const socket = this.socket;
    if (this._state === TransportState.Disconnected || !socket) {
      if (this._state !== TransportState.Disconnected) this.transition(TransportState.Disconnected);
      return Promise.resolve();
    }
    if (this._state !== TransportState.Disconnecting) this.transition(TransportState.Disconnecting);
    return new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      socket.end();
      // a peer that never closes its side still lets us go
      setTimeout(() => socket.destroy(), 500).unref();
    });
  }

  async dispose(): Promise<void> {
    await this.disconnect();
  }

  send(message: string): Promise<void> {
    const socket = this.socket;
    if (this._state !== TransportState.Connected || !socket) {
      return Promise.reject(new Error(`cannot send: transport is ${this._state}`));
    }
    this.sent.push(message);
    return new Promise<void>((resolve, reject) => {
      socket.write(message, "utf8", (err) => (err ? reject(err) : resolve()));
    });
  }

  private receive(chunk: Buffer): void {
    const { messages, rest } = cutMessages(Buffer.concat([this.inbound, chunk]));
    this.inbound = rest;
    for (const m of messages) {
      this.received.push(m);
      this.onMessage?.(m);
    }
  }

  private transition(next: TransportState, error?: Error): void {
    const previous = this._state;
    if (previous === next) return;
    this._state = next;
    this._stateChange.emit(next);
    if (next === TransportState.Connected) this.onConnect?.();
    // onDisconnect fires on leaving Connected, whether towards Disconnecting or Disconnected.
    if (previous === TransportState.Connected) this.onDisconnect?.(error);
  }
}
