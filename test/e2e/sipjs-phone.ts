// SIP.js (npm `sip.js` 0.21) as the softphone of a web app: a UserAgent with the extension's
// credentials, sipext as its outbound proxy — `preloadedRouteSet: ["sip:<sipext>;lr"]`, SIP.js's
// own setting for it, which puts that Route on every request outside a dialog — registered with a
// Registerer, calling with an Inviter and called through the UserAgent delegate's `onInvite`.
// It talks over SIP.js's own WebSocket transport (RFC 7118) to sipext's `ws://…/sip`, as in a
// browser (./sipjs-ws.ts gives Node the WebSocket SIP.js expects), with its browser Contact
// (`sip:<random>@<random>.invalid;transport=ws`): sipext reaches it back over that WebSocket.
//
// No WebRTC: `FakeSdh` is a SessionDescriptionHandler that offers and answers plain RTP audio
// (G.711, as a desk phone would) on a UDP port it holds, applies SIP.js's modifiers (e.g.
// `Web.holdModifier` for hold) to what it offers, and answers a `sendonly` offer with `recvonly`
// as RFC 3264 §6.1 asks. It records every SDP it was given and produced.
import { createSocket, type Socket } from "node:dgram";
import {
  type Invitation,
  Inviter,
  type InviterOptions,
  Registerer,
  RegistererState,
  type Session,
  type SessionDescriptionHandler,
  type SessionDescriptionHandlerModifier,
  SessionState,
  UserAgent,
} from "sip.js";
import { until } from "../sip/raw-sip.js";
import type { Ext, Phone, Phones } from "./phones.js";
import { installWebSocket, type RecordingWebSocket, recorderOf, wireOf } from "./sipjs-ws.js";

/** The value of the first header `name` in a raw SIP message. */
export function header(message: string, name: string): string | undefined {
  const head = message.slice(0, message.indexOf("\r\n\r\n"));
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase())
      return line.slice(colon + 1).trim();
  }
  return undefined;
}

export const startLine = (message: string) => message.slice(0, message.indexOf("\r\n"));

/** The SDP direction attribute of a media description (sendrecv when absent). */
export function directionOf(sdp: string): string {
  return /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m.exec(sdp)?.[1] ?? "sendrecv";
}

const ANSWER_DIRECTION: Record<string, string> = {
  sendrecv: "sendrecv",
  sendonly: "recvonly",
  recvonly: "sendonly",
  inactive: "inactive",
};

/** A SessionDescriptionHandler without WebRTC: plain RTP audio on `port`, every SDP recorded. */
export class FakeSdh implements SessionDescriptionHandler {
  /** SDP bodies this side produced (offers and answers), in order */
  readonly local: string[] = [];
  /** SDP bodies received from the other side, in order */
  readonly remote: string[] = [];
  private version = 0;
  private readonly sessionId = Math.floor(Math.random() * 1e9);
  /** RFC 3264 offer/answer state, as RTCPeerConnection's signalingState */
  private state: "stable" | "have-local-offer" | "have-remote-offer" = "stable";
  /** the direction the pending remote offer asked for */
  private offered = "sendrecv";

  constructor(private readonly port: number) {}

  private sdp(direction: string): string {
    return [
      "v=0",
      `o=sipjs ${this.sessionId} ${++this.version} IN IP4 127.0.0.1`,
      "s=-",
      "c=IN IP4 127.0.0.1",
      "t=0 0",
      `m=audio ${this.port} RTP/AVP 0 8 101`,
      "a=rtpmap:0 PCMU/8000",
      "a=rtpmap:8 PCMA/8000",
      "a=rtpmap:101 telephone-event/8000",
      "a=fmtp:101 0-15",
      `a=${direction}`,
      "",
    ].join("\r\n");
  }

  async getDescription(
    _options?: unknown,
    modifiers: SessionDescriptionHandlerModifier[] = [],
  ): Promise<{ body: string; contentType: string }> {
    const answering = this.state === "have-remote-offer";
    const direction = answering ? (ANSWER_DIRECTION[this.offered] ?? "sendrecv") : "sendrecv";
    let description = { type: answering ? "answer" : "offer", sdp: this.sdp(direction) };
    for (const modify of modifiers) {
      description = { ...description, ...(await modify(description as Parameters<typeof modify>[0])) };
    }
    this.state = answering ? "stable" : "have-local-offer";
    this.local.push(description.sdp);
    return { body: description.sdp, contentType: "application/sdp" };
  }

  hasDescription(contentType: string): boolean {
    return contentType === "application/sdp";
  }

  async setDescription(sdp: string): Promise<void> {
    this.remote.push(sdp);
    if (this.state === "have-local-offer") {
      this.state = "stable"; // the answer to our offer
    } else {
      this.state = "have-remote-offer";
      this.offered = directionOf(sdp);
    }
  }

  async rollbackDescription(): Promise<void> {
    this.state = "stable";
  }

  sendDtmf(): boolean {
    return false;
  }

  close(): void {}
}

export interface SipjsPhoneOptions {
  ext: string;
  password: string;
  /** the customer's SIP domain */
  domain: string;
  /** sipext's HTTP port on 127.0.0.1, whose `/sip` is SIP over WebSocket */
  httpPort: number;
  /** a name for messages, e.g. "caller" */
  label?: string;
  /** registration lifetime, seconds */
  expires?: number;
}

/** One SIP.js user agent, registered, with every SIP message it sent and received. */
export class SipjsPhone implements Phone {
  readonly ua: UserAgent;
  readonly registerer: Registerer;
  /** calls that came in, in order */
  readonly invitations: Invitation[] = [];
  /** MESSAGE bodies that came in, in order */
  readonly messages: string[] = [];
  private readonly logLines: string[] = [];
  private readonly rtp: Socket;
  readonly label: string;

  private constructor(
    readonly o: SipjsPhoneOptions,
    rtp: Socket,
  ) {
    this.rtp = rtp;
    this.label = o.label ?? o.ext;
    const uri = UserAgent.makeURI(`sip:${o.ext}@${o.domain}`);
    if (!uri) throw new Error(`SIP.js could not make sip:${o.ext}@${o.domain}`);
    const port = (rtp.address() as { port: number }).port;
    this.ua = new UserAgent({
      uri,
      authorizationUsername: o.ext,
      authorizationPassword: o.password,
      transportOptions: { server: `ws://127.0.0.1:${o.httpPort}/sip` },
      preloadedRouteSet: [`sip:127.0.0.1:${o.httpPort};transport=ws;lr`],
      sessionDescriptionHandlerFactory: () => new FakeSdh(port),
      delegate: {
        onInvite: (invitation) => {
          this.invitations.push(invitation);
        },
        onMessage: (message) => {
          this.messages.push(message.request.body);
          message.accept();
        },
      },
      logBuiltinEnabled: false,
      logConfiguration: false,
      logLevel: "log",
      logConnector: (level, category, _label, content) => {
        if (level !== "debug") this.logLines.push(`${level} ${category}: ${content}`);
      },
    });
    this.registerer = new Registerer(this.ua, { expires: o.expires ?? 600 });
  }

  /** A registered SIP.js phone on extension `e` of a suite's server (./phones.ts `phoneSuite`). */
  static on(
    suite: { h: { admin: { domainName: string }; server: { httpPort: number } }; phones: Phones },
    e: Ext,
    label = `SIP.js ${e.ext}`,
  ): Promise<SipjsPhone> {
    return SipjsPhone.start(suite.phones, {
      ext: e.ext,
      password: e.password,
      domain: suite.h.admin.domainName,
      httpPort: suite.h.server.httpPort,
      label,
    });
  }

  /** Starts a SIP.js phone, registers it, and keeps it with the test's phones. */
  static async start(phones: Phones, o: SipjsPhoneOptions): Promise<SipjsPhone> {
    installWebSocket();
    const rtp = createSocket("udp4");
    rtp.on("message", () => {}); // media from the other phone, if any, is dropped
    await new Promise<void>((resolve) => rtp.bind(0, "127.0.0.1", () => resolve()));
    const phone = phones.add(new SipjsPhone(o, rtp));
    await phone.ua.start();
    await phone.registerer.register();
    await until(
      `the registration of SIP.js ${phone.label}`,
      () => phone.registerer.state === RegistererState.Registered,
    );
    return phone;
  }

  /** The SDP handler of a session of this phone. */
  static sdh(session: Session): FakeSdh {
    const sdh = session.sessionDescriptionHandler;
    if (!(sdh instanceof FakeSdh)) throw new Error("the session has no SDP handler yet");
    return sdh;
  }

  /** The WebSocket SIP.js is connected with: every SIP message it sent and received. */
  get transport(): RecordingWebSocket {
    return wireOf(this.ua);
  }

  /** Calls `target` (a SIP URI) and resolves once the INVITE is sent. */
  async call(target: string, options: InviterOptions = {}): Promise<Inviter> {
    const uri = UserAgent.makeURI(target);
    if (!uri) throw new Error(`SIP.js could not make ${target}`);
    const inviter = new Inviter(this.ua, uri, options);
    await inviter.invite();
    return inviter;
  }

  /** The next call that comes in (the `n`th, counting from 0). */
  async invitation(n = 0, ms = 5_000): Promise<Invitation> {
    await until(`call #${n + 1} at SIP.js ${this.label}`, () => this.invitations.length > n, ms);
    return this.invitations[n] as Invitation;
  }

  /** Requests and responses SIP.js sent (`sent`) or received, whose first line starts with `start`. */
  wire(direction: "sent" | "received", start: string): string[] {
    const t = this.transport;
    return (direction === "sent" ? t.sent : t.received).filter((m) => m.startsWith(start));
  }

  log(): string {
    const t = recorderOf(this.ua);
    const wire = [
      ...(t?.sent ?? []).map((m) => `>>> sent\n${m}`),
      ...(t?.received ?? []).map((m) => `<<< received\n${m}`),
    ];
    return `--- SIP.js ${this.label} (${this.o.ext}), its log:\n${this.logLines.join("\n")}\n--- its SIP messages (sent first, then received):\n${wire.join("\n")}\n--- end of SIP.js ${this.label}`;
  }

  async stop(): Promise<void> {
    try {
      await this.ua.stop();
    } finally {
      this.rtp.close();
    }
  }
}

/** Waits until `session` reaches `state`; fails at once if it ends instead. */
export async function sessionState(session: Session, state: SessionState, ms = 5_000): Promise<void> {
  await until(
    `session ${state}`,
    () =>
      session.state === state ||
      (state !== SessionState.Terminated && session.state === SessionState.Terminated),
    ms,
  );
  if (session.state !== state) throw new Error(`the session ended instead of reaching ${state}`);
}
