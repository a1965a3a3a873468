// Raw SIP peers for tests: a UDP socket and a TCP connection that send bytes exactly as given
// (malformed ones included) and read the server's responses with a parser independent of the
// server's own.
import { randomBytes } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createConnection, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  reason: string;
  /** header values by lower-case name, in order */
  headers: Map<string, string[]>;
  raw: string;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when `check` passes; throws after `ms`. */
export async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

export const token = (bytes = 6) => randomBytes(bytes).toString("hex");

/** Reads a response's start line and header fields; undefined when it is not a SIP response. */
export function parseResponse(raw: string): RawResponse | undefined {
  const end = raw.indexOf("\r\n\r\n");
  const lines = (end < 0 ? raw : raw.slice(0, end)).split("\r\n");
  const m = /^SIP\/2\.0 (\d{3}) (.*)$/.exec(lines[0] ?? "");
  if (!m) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  return { status: Number(m[1]), reason: m[2] ?? "", headers, raw };
}

export const headerOf = (r: RawResponse, name: string): string | undefined =>
  r.headers.get(name.toLowerCase())?.[0];

const HEADER_END = Buffer.from("\r\n\r\n");

/** Cuts whole messages (Content-Length framing) off the front of a stream buffer. */
export function cutMessages(buf: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let pos = 0;
  for (;;) {
    // CRLFs between messages (a keep-alive pong) are skipped (RFC 3261 §7.5, RFC 5626 §4.4.1).
    while (pos < buf.length && (buf[pos] === 0x0d || buf[pos] === 0x0a)) pos++;
    const end = buf.indexOf(HEADER_END, pos);
    if (end < 0) break;
    const head = buf.toString("utf8", pos, end);
    const m = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)/im.exec(head);
    const length = m?.[1] ? Number(m[1]) : 0;
    const total = end + HEADER_END.length + length;
    if (buf.length < total) break;
    messages.push(buf.toString("utf8", pos, total));
    pos = total;
  }
  return { messages, rest: buf.subarray(pos) };
}

export interface RequestSpec {
  method?: string;
  uri?: string;
  version?: string;
  /** the Via value; default `SIP/2.0/<transport> 127.0.0.1:<port>;rport;branch=z9hG4bK…` */
  via?: string;
  from?: string;
  to?: string;
  callId?: string;
  /** the CSeq value; default `1 <method>` */
  cseq?: string;
  /** extra header lines, as written */
  extra?: string[];
  /** header names to leave out */
  omit?: string[];
  body?: string;
  /** the Content-Length value; default the body's length in bytes; null leaves the header out */
  contentLength?: number | string | null;
}

/**
 * Writes a request as text. `peer` gives the Via sent-by (the socket the test reads from) and
 * `domain` the Request-URI, From and To host.
 */
export function buildRequest(
  peer: { transport: "UDP" | "TCP"; port: number },
  domain: string,
  spec: RequestSpec = {},
): { text: string; callId: string } {
  const method = spec.method ?? "OPTIONS";
  const callId = spec.callId ?? `${token()}@test`;
  const body = spec.body ?? "";
  const fields: Array<[string, string | undefined]> = [
    ["Via", spec.via ?? `SIP/2.0/${peer.transport} 127.0.0.1:${peer.port};rport;branch=z9hG4bK${token()}`],
    ["Max-Forwards", "70"],
    ["From", spec.from ?? `<sip:probe@${domain}>;tag=${token(4)}`],
    ["To", spec.to ?? `<sip:probe@${domain}>`],
    ["Call-ID", callId],
    ["CSeq", spec.cseq ?? `1 ${method}`],
  ];
  let text = `${method} ${spec.uri ?? `sip:${domain}`} ${spec.version ?? "SIP/2.0"}\r\n`;
  for (const [name, value] of fields) {
    if (!spec.omit?.includes(name) && value !== undefined) text += `${name}: ${value}\r\n`;
  }
  for (const line of spec.extra ?? []) text += `${line}\r\n`;
  const cl = spec.contentLength === undefined ? Buffer.byteLength(body) : spec.contentLength;
  if (cl !== null) text += `Content-Length: ${cl}\r\n`;
  return { text: `${text}\r\n${body}`, callId };
}

/** A UDP socket on 127.0.0.1 that keeps what it receives. */
export class UdpPeer {
  readonly inbox: RawResponse[] = [];
  /** datagrams that were not SIP responses */
  readonly other: Buffer[] = [];

  private constructor(
    private readonly socket: UdpSocket,
    readonly port: number,
  ) {
    socket.on("message", (data) => {
      const r = parseResponse(data.toString("utf8"));
      if (r) this.inbox.push(r);
      else this.other.push(data);
    });
  }

  static async open(): Promise<UdpPeer> {
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    return new UdpPeer(socket, socket.address().port);
  }

  send(data: string | Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(data, port, "127.0.0.1", (err) => (err ? reject(err) : resolve())),
    );
  }

  /** The first response carrying `callId`, waited for up to `ms`; undefined if none came. */
  async response(callId: string, ms = 2_000): Promise<RawResponse | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.inbox.find((r) => headerOf(r, "call-id") === callId);
      if (hit || Date.now() > deadline) return hit;
      await sleep(2);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A TCP connection to 127.0.0.1 that keeps every byte it receives. */
export class TcpPeer {
  /** every byte received, in order */
  raw: Buffer = Buffer.alloc(0);
  readonly responses: RawResponse[] = [];
  closed = false;
  readonly closedAt: Promise<number>;
  private pending: Buffer = Buffer.alloc(0);

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.raw = Buffer.concat([this.raw, chunk]);
      const { messages, rest } = cutMessages(Buffer.concat([this.pending, chunk]));
      this.pending = rest;
      for (const m of messages) {
        const r = parseResponse(m);
        if (r) this.responses.push(r);
      }
    });
    socket.on("error", () => {});
    this.closedAt = new Promise((resolve) =>
      socket.on("close", () => {
        this.closed = true;
        resolve(Date.now());
      }),
    );
  }

  static async open(port: number): Promise<TcpPeer> {
    const socket = createConnection({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new TcpPeer(socket);
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(data, (err) => (err ? reject(err) : resolve())),
    );
  }

  async response(callId: string, ms = 2_000): Promise<RawResponse | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.responses.find((r) => headerOf(r, "call-id") === callId);
      if (hit || Date.now() > deadline) return hit;
      await sleep(2);
    }
  }

  /** True if the server closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closedAt.then(() => true), sleep(ms).then(() => this.closed)]);
  }

  close(): void {
    this.socket.destroy();
  }
}
