// A phone that is a bare socket — UDP by default, or a TCP or TLS connection, or a WebSocket (ws://
// or wss://, RFC 7118) — : it registers with digest (REGISTER, 401, REGISTER with Authorization)
// with whatever Contact parameters and headers a test gives, sees every request sipext sends it,
// and answers them byte by byte. For the wire rules real clients cannot be made to show (q,
// Path, reg-id, serial forking, stateless answers, the transports' framing).
import { createSocket } from "node:dgram";
import { type Socket, connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import WebSocket from "ws";
import { digestHa1 } from "../../src/domain/secrets.js";
import { expectedResponse } from "../../src/sip/auth/digest.js";
import { cutMessages, sleep, token, until } from "../sip/raw-sip.js";

/** How the phone's bytes go to sipext and come back. */
export interface Channel {
  transport: "UDP" | "TCP" | "TLS" | "WS" | "WSS";
  /** the local port (Via sent-by, Contact) */
  port: number;
  /** sends to sipext (UDP: to `to`, a port of 127.0.0.1, when given — a response goes to its Via) */
  send(data: Buffer, to?: number): void;
  onMessage(cb: (m: Buffer) => void): void;
  close(): Promise<void>;
}

/** A UDP socket on `local` (127.0.0.1, or another loopback address) sending to sipext's SIP port. */
export async function udpChannel(sipPort: number, local = "127.0.0.1"): Promise<Channel> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, local, () => resolve()));
  return {
    transport: "UDP",
    port: socket.address().port,
    send: (data, to = sipPort) => socket.send(data, to, "127.0.0.1"),
    onMessage: (cb) => socket.on("message", cb),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** A TLS connection to sipext's TLS port, trusting `ca` (its self-signed certificate). */
export async function tlsChannel(port: number, ca: string): Promise<Channel> {
  const socket = tlsConnect({ host: "127.0.0.1", port, ca, servername: "localhost" });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  return streamChannel("TLS", socket);
}

/** A TCP connection from `local` (127.0.0.1, or another loopback address) to sipext's SIP port. */
export async function tcpChannel(port: number, local = "127.0.0.1"): Promise<Channel> {
  const socket = tcpConnect({ host: "127.0.0.1", port, localAddress: local });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  return streamChannel("TCP", socket);
}

/** A connected stream socket as a channel: the messages cut from what it receives. */
function streamChannel(transport: "TCP" | "TLS", socket: Socket): Channel {
  let pending: Buffer = Buffer.alloc(0);
  const listeners: Array<(m: Buffer) => void> = [];
  socket.on("data", (chunk: Buffer) => {
    const { messages, rest } = cutMessages(Buffer.concat([pending, chunk]));
    pending = rest;
    for (const m of messages) for (const cb of listeners) cb(Buffer.from(m, "latin1"));
  });
  socket.on("error", () => {});
  return {
    transport,
    port: socket.localPort ?? 0,
    send: (data) => socket.write(data),
    onMessage: (cb) => listeners.push(cb),
    close: async () => void socket.destroy(),
  };
}

/** A WebSocket to `url` (ws:// or wss://) with the "sip" subprotocol (RFC 7118). */
export async function wsChannel(url: string, ca?: string): Promise<Channel> {
  const ws = new WebSocket(url, "sip", ca ? { ca } : {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    transport: url.startsWith("wss:") ? "WSS" : "WS",
    port: (ws as unknown as { _socket: { localPort: number } })._socket.localPort,
    send: (data) => ws.send(data.toString("latin1")),
    onMessage: (cb) => ws.on("message", (m: Buffer) => cb(m)),
    close: async () => ws.close(),
  };
}

export interface RawPhoneOptions {
  sipPort: number;
  domain: string;
  ext: string;
  password: string;
  /** the Contact line's parameters after the URI, e.g. ";q=0.5" */
  contactParams?: string;
  /** extra header lines of the REGISTER */
  headers?: string[];
  expires?: number;
}

const CRLF = "\r\n";
export const firstLine = (m: string) => m.slice(0, m.indexOf(CRLF));
export const headerValues = (m: string, name: string) =>
  [...m.slice(0, m.indexOf(CRLF + CRLF)).matchAll(new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, "gi"))].map(
    (x) => x[1] ?? "",
  );
export const headerValue = (m: string, name: string) => headerValues(m, name)[0];

/** A response to a request as a device writes it: its Vias, From, Call-ID, CSeq, To tagged. */
export function answerTo(request: string, status: string, toTag = token(4), extra: string[] = []): string {
  const lines = request.slice(0, request.indexOf(CRLF + CRLF)).split(CRLF);
  const copied = lines.filter((l) => /^(Via|From|Call-ID|CSeq|Record-Route):/i.test(l));
  const to = lines.find((l) => /^To:/i.test(l)) ?? "To: <sip:unknown@invalid>";
  const tagged = /;tag=/i.test(to) ? to : `${to};tag=${toTag}`;
  return [`SIP/2.0 ${status}`, ...copied, tagged, ...extra, "Content-Length: 0", "", ""].join(CRLF);
}

export class RawPhone {
  /** every message received, as text */
  readonly got: string[] = [];
  /** every datagram received, as bytes (STUN answers are not text) */
  readonly datagrams: Buffer[] = [];
  readonly callId = `${token()}@raw-phone`;
  /** the last request sent (to send it again: a retransmission) */
  lastSent = "";
  private cseq = 0;

  private constructor(
    readonly channel: Channel,
    private readonly o: RawPhoneOptions,
  ) {
    channel.onMessage((m) => {
      this.datagrams.push(m);
      this.got.push(m.toString("latin1"));
    });
  }

  /** A phone on UDP, or on the channel given (TLS, WS, WSS). */
  static async open(o: RawPhoneOptions, channel?: Channel): Promise<RawPhone> {
    return new RawPhone(channel ?? (await udpChannel(o.sipPort)), o);
  }

  get port(): number {
    return this.channel.port;
  }

  /** The Via transport and the Contact's (RFC 7118 §5.2: a WebSocket client's is `ws`/`wss`). */
  get transport(): Channel["transport"] {
    return this.channel.transport;
  }

  get contact(): string {
    const param = this.transport === "UDP" ? "" : `;transport=${this.transport.toLowerCase()}`;
    return `sip:${this.o.ext}@127.0.0.1:${this.port}${param}`;
  }

  send(text: string | Buffer, to?: number): void {
    if (typeof text === "string") this.lastSent = text;
    this.channel.send(typeof text === "string" ? Buffer.from(text, "latin1") : text, to);
  }

  /** The first message received after `from` that `match` accepts, waited for up to `ms`. */
  async next(match: (m: string) => boolean, ms = 3_000, from = 0): Promise<string> {
    let hit: string | undefined;
    await until(
      `a message at ${this.port}\n${this.got.join("\n---\n")}`,
      () => {
        hit = this.got.slice(from).find(match);
        return hit !== undefined;
      },
      ms,
    );
    return hit as string;
  }

  /** Sends a REGISTER of this phone and waits for its final response. */
  async register(extraHeaders: string[] = [], cseq?: number): Promise<string> {
    if (cseq === undefined) cseq = ++this.cseq;
    else this.cseq = Math.max(this.cseq, cseq);
    const { domain, ext } = this.o;
    const text = [
      `REGISTER sip:${domain} SIP/2.0`,
      `Via: SIP/2.0/${this.transport} 127.0.0.1:${this.port};branch=z9hG4bK-${token()};rport`,
      "Max-Forwards: 70",
      `From: <sip:${ext}@${domain}>;tag=raw${this.port}`,
      `To: <sip:${ext}@${domain}>`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <${this.contact}>${this.o.contactParams ?? ""}`,
      ...(extraHeaders.some((l) => /^Expires:/i.test(l)) ? [] : [`Expires: ${this.o.expires ?? 600}`]),
      ...(this.o.headers ?? []),
      ...extraHeaders,
      "Content-Length: 0",
      "",
      "",
    ].join(CRLF);
    const from = this.got.length;
    this.send(text);
    return this.next(
      (m) => m.startsWith("SIP/2.0 ") && headerValue(m, "CSeq") === `${cseq} REGISTER`,
      3_000,
      from,
    );
  }

  /** The Authorization header answering a REGISTER's 401 with this phone's credentials. */
  authorization(challenge: string): string {
    const nonce = /nonce="([^"]+)"/.exec(headerValue(challenge, "WWW-Authenticate") ?? "")?.[1] ?? "";
    const { domain, ext, password } = this.o;
    const uri = `sip:${domain}`;
    const cnonce = token();
    const creds = { username: ext, realm: domain, nonce, uri, response: "", algorithm: "MD5" as const };
    const response = expectedResponse(digestHa1(ext, domain, password).md5, "REGISTER", {
      ...creds,
      qop: "auth",
      nc: "00000001",
      cnonce,
    });
    return `Authorization: Digest username="${ext}", realm="${domain}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`;
  }

  /** Registers with digest: the 401, then the REGISTER with Authorization; returns the 200 (or what came). */
  async registerWithDigest(extraHeaders: string[] = [], authenticatedCSeq?: number): Promise<string> {
    const challenge = await this.register(extraHeaders);
    return this.register([...extraHeaders, this.authorization(challenge)], authenticatedCSeq);
  }

  /** Answers the INVITE it got with `status` (after a 180 when `ring`). */
  answer(invite: string, status: string, ring = false): void {
    const tag = token(4);
    if (ring) this.send(answerTo(invite, "180 Ringing", tag));
    this.send(answerTo(invite, status, tag, status.startsWith("200") ? [`Contact: <${this.contact}>`] : []));
  }

  /** Nothing more arrives for `ms` (besides what `ignore` accepts). */
  async quiet(ms: number, ignore: (m: string) => boolean = () => false): Promise<string[]> {
    const from = this.got.length;
    await sleep(ms);
    return this.got.slice(from).filter((m) => !ignore(m));
  }

  close(): Promise<void> {
    return this.channel.close();
  }
}
