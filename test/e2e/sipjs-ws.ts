// SIP.js in Node as in a browser: its own WebSocket transport (SIP.js's `Web.Transport`, RFC 7118)
// to sipext's `ws://…/sip`. SIP.js opens `new WebSocket(server, "sip")` with the global WebSocket,
// which Node 20 lacks; `installWebSocket()` makes it the `ws` package's, in a subclass that keeps
// every frame both ways for the tests (`wireOf(ua)`).
import type { UserAgent, Web } from "sip.js";
import { WebSocket } from "ws";

/** The `ws` package's WebSocket, keeping every SIP message it sent and received. */
export class RecordingWebSocket extends WebSocket {
  readonly sent: string[] = [];
  readonly received: string[] = [];

  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols);
    // Listening first: a message is recorded before SIP.js handles it.
    this.on("message", (data, isBinary) => {
      if (!isBinary) this.received.push(data.toString());
    });
  }

  override send(data: Parameters<WebSocket["send"]>[0], ...rest: unknown[]): void {
    this.sent.push(String(data));
    (super.send as (...args: unknown[]) => void).call(this, data, ...rest);
  }

  /** the client's own port: what the registrar records as the contact's source */
  get localPort(): number | undefined {
    return (this as unknown as { _socket?: { localPort?: number } })._socket?.localPort;
  }
}

/** Gives SIP.js the WebSocket it expects to find in a browser (idempotent). */
export function installWebSocket(): void {
  (globalThis as { WebSocket?: unknown }).WebSocket = RecordingWebSocket;
}

/** The WebSocket a user agent's transport has now, if any. */
export function recorderOf(ua: UserAgent): RecordingWebSocket | undefined {
  const ws = (ua.transport as Web.Transport | undefined)?.ws;
  return ws instanceof RecordingWebSocket ? ws : undefined;
}

/** The WebSocket a started user agent's transport is connected with. */
export function wireOf(ua: UserAgent): RecordingWebSocket {
  const ws = recorderOf(ua);
  if (!ws) throw new Error("SIP.js's transport has no recording WebSocket (is it started?)");
  return ws;
}
