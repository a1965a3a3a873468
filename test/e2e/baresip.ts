// Runs baresip (Debian `baresip-core`, 1.0.0), a full SIP user agent, headless and set up as the
// README's "Registering a phone" tells a user to: the extension at the customer's SIP domain
// (which does not resolve: the outbound proxy carries everything), its password, sipext as the
// outbound proxy over UDP or TCP. Every baresip gets its own config dir (`-f`), prints its SIP
// trace (`-s`), quits by itself after `-t` seconds and is SIGKILLed a little later should it not.
//
// A test drives it through baresip's `ctrl_tcp` module: JSON commands in netstrings
// (`{"command":"dial","params":"sip:…","token":"…"}`, answered `{"response":true,"ok":…}`), and
// every UA event pushed back the same way (`{"event":true,"type":"CALL_ESTABLISHED","param":…,
// "direction":…,"peeruri":…,"id":<Call-ID>}`). The commands are the `menu` module's: `dial <uri>`,
// `hangup` (an incoming call not yet answered is rejected with 486), `accept`.
//
// A `Baresip` is a `Phone` (./phones.ts): `startBaresip(phones, options)` starts one and keeps it
// with the test's other phones, whose logs explain a failure.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeDir } from "../helpers/harness.js";
import { until } from "../sip/raw-sip.js";
import type { Phone, Phones } from "./phones.js";
import { type BoundedRun, spawnBounded } from "./sipp.js";

export type BaresipTransport = "udp" | "tcp" | "tls";

export interface BaresipAccount {
  /** the extension: user part of the address of record, digest username */
  ext: string;
  password: string;
  /** the customer's SIP domain */
  domain: string;
  /** sipext's SIP port on 127.0.0.1 (UDP and TCP share it; for TLS, its TLS port) */
  sipPort: number;
  transport: BaresipTransport;
  /** `auto` answers every call at once; `manual` rings until told (baresip's default) */
  answermode?: "auto" | "manual";
  /** re-registration interval, seconds */
  regint?: number;
}

export interface BaresipOptions extends BaresipAccount {
  /** `-t`: baresip quits by itself after this many seconds; SIGKILL 10 s later */
  timeoutS?: number;
  /** load `ctrl_tcp` and connect to it (default true); without it only the output can be read */
  control?: boolean;
  /** a name for messages, e.g. "caller" */
  label?: string;
  /** a PEM file of the certificate(s) to trust for TLS (sipext's self-signed one) */
  caFile?: string;
  /** the `accounts` file as given (a provisioning link's baresip line), instead of accountLine() */
  accounts?: string;
}

/** A UA event as ctrl_tcp sends it. */
export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  direction?: "incoming" | "outgoing";
  peeruri?: string;
  accountaor?: string;
  /** the call's Call-ID */
  id?: string;
  /** when it came, ms since baresip was started */
  at: number;
}

/** One message of baresip's SIP trace (`-s`): `UDP 127.0.0.1:a -> 127.0.0.1:b` and the message. */
export interface TracedMessage {
  transport: string;
  src: string;
  dst: string;
  firstLine: string;
  raw: string;
}

/** `accounts` line as a user would write it (README "Registering a phone"). */
export function accountLine(a: BaresipAccount): string {
  const outbound = `sip:127.0.0.1:${a.sipPort};transport=${a.transport}`;
  let line = `<sip:${a.ext}@${a.domain}>;auth_pass=${a.password};outbound="${outbound}";regint=${a.regint ?? 600}`;
  if (a.answermode) line += `;answermode=${a.answermode}`;
  return `${line}\n`;
}

/**
 * `config`: SIP on a free port of 127.0.0.1, media on 127.0.0.1 too (`net_interface`: the SDP
 * does not depend on the machine's network), G.711. No audio module at all: baresip then
 * starts neither a source nor a player (1.0.0's ausine only does 48 kHz, and there is no sound
 * card), and a call is signalling plus whatever RTP the other side sends.
 */
export function configText(ctrlPort?: number, caFile?: string): string {
  const lines = [
    "sip_listen\t\t127.0.0.1:0",
    "net_interface\t\t127.0.0.1",
    "module_path\t\t/usr/lib/baresip/modules",
    "module\t\t\tg711.so",
    "module\t\t\taccount.so",
    "module\t\t\tmenu.so",
  ];
  if (ctrlPort !== undefined) {
    lines.push("module_app\t\tctrl_tcp.so", `ctrl_tcp_listen\t\t127.0.0.1:${ctrlPort}`);
  }
  // TLS: the server's certificate is trusted as a phone's user would install it.
  if (caFile !== undefined) lines.push(`sip_cafile\t\t${caFile}`);
  return `${lines.join("\n")}\n`;
}

/** A TCP port nobody listens on right now (baresip's ctrl_tcp cannot be told to take port 0). */
async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Reads netstrings (`<length>:<bytes>,`) off a byte stream. */
export class NetstringReader {
  private buf = Buffer.alloc(0);
  constructor(private readonly onMessage: (text: string) => void) {}
  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(this.buf.subarray(0, colon).toString("latin1"));
      if (!Number.isInteger(len)) throw new Error(`not a netstring: ${this.buf.toString("latin1", 0, 40)}`);
      if (this.buf.length < colon + 1 + len + 1) return;
      this.onMessage(this.buf.toString("utf8", colon + 1, colon + 1 + len));
      this.buf = this.buf.subarray(colon + 1 + len + 1);
    }
  }
}

export const netstring = (text: string): Buffer => {
  const body = Buffer.from(text, "utf8");
  return Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(",")]);
};

export class Baresip implements Phone {
  readonly events: BaresipEvent[] = [];
  private socket: Socket | undefined;
  private readonly responses = new Map<string, { ok: boolean; data: string }>();
  private seq = 0;
  private readonly started = Date.now();

  private constructor(
    readonly label: string,
    readonly dir: string,
    readonly run: BoundedRun,
  ) {}

  /** Starts baresip; with control (the default), resolves once ctrl_tcp is connected. */
  static async start(o: BaresipOptions): Promise<Baresip> {
    const control = o.control ?? true;
    for (let attempt = 1; ; attempt++) {
      const ctrlPort = control ? await freeTcpPort() : undefined;
      const dir = mkdtempSync(join(tmpdir(), "sipext-baresip-"));
      writeFileSync(join(dir, "config"), configText(ctrlPort, o.caFile));
      writeFileSync(join(dir, "accounts"), o.accounts ?? accountLine(o));
      const timeoutS = o.timeoutS ?? 30;
      const run = spawnBounded("baresip", ["-f", dir, "-t", String(timeoutS), "-s"], (timeoutS + 10) * 1000);
      const b = new Baresip(o.label ?? o.ext, dir, run);
      if (ctrlPort === undefined) return b;
      try {
        await b.connect(ctrlPort);
        return b;
      } catch (err) {
        await b.stop();
        // Another process may have taken the port between freeTcpPort() and baresip's bind.
        if (attempt >= 3) throw err;
      }
    }
  }

  /**
   * Connects to ctrl_tcp once baresip is ready, and only if it is its own listener: a port taken
   * meanwhile (two suites run in parallel) makes ctrl_tcp print "failed to listen", and connecting
   * anyway would reach, and take over, another test's baresip (ctrl_tcp keeps one connection).
   */
  private async connect(port: number): Promise<void> {
    let exited = false;
    const ended = () => {
      exited = true;
    };
    void this.run.done.then(ended, ended);
    await until(`baresip ${this.label} ready`, () => exited || /baresip is ready\./.test(this.output()));
    if (exited || /ctrl_tcp: failed to listen/.test(this.output()))
      throw new Error(`ctrl_tcp of baresip ${this.label} is not listening on ${port}\n${this.log()}`);
    this.socket = await new Promise<Socket>((resolve, reject) => {
      const s = tcpConnect(port, "127.0.0.1", () => resolve(s));
      s.once("error", reject);
    });
    const reader = new NetstringReader((text) => this.received(text));
    this.socket.on("data", (d) => reader.push(d));
    this.socket.on("error", () => {});
  }

  private received(text: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (msg.event) this.events.push({ ...(msg as unknown as BaresipEvent), at: Date.now() - this.started });
    else if (msg.response && typeof msg.token === "string")
      this.responses.set(msg.token, { ok: msg.ok === true, data: String(msg.data ?? "") });
  }

  /** Runs a command (`dial sip:…`, `hangup`, `accept`) and resolves with baresip's answer. */
  async command(command: string, params?: string): Promise<{ ok: boolean; data: string }> {
    if (!this.socket) throw new Error(`baresip ${this.label} has no control connection`);
    const token = `t${++this.seq}`;
    this.socket.write(netstring(JSON.stringify({ command, ...(params ? { params } : {}), token })));
    await this.until(`the answer to "${command}"`, () => this.responses.has(token));
    const res = this.responses.get(token) as { ok: boolean; data: string };
    if (!res.ok) throw new Error(`baresip ${this.label}: "${command}" failed: ${res.data}`);
    return res;
  }

  /**
   * Waits for an event of this type (and matching `also`). Waiting for a call's progress
   * (CALL_RINGING, CALL_ESTABLISHED, …) fails at once when the phone reports its call closed
   * instead, with the reason it gives (e.g. "403 Forbidden").
   */
  async event(
    type: string,
    also: (e: BaresipEvent) => boolean = () => true,
    ms = 5_000,
  ): Promise<BaresipEvent> {
    const find = () => this.events.find((e) => e.type === type && also(e));
    const closed = () =>
      type.startsWith("CALL_") && type !== "CALL_CLOSED"
        ? this.events.find((e) => e.type === "CALL_CLOSED")
        : undefined;
    await this.until(`event ${type}`, () => find() !== undefined || closed() !== undefined, ms);
    const found = find();
    if (found) return found;
    throw new Error(`baresip ${this.label}: the call was closed ("${closed()?.param}") instead of ${type}`);
  }

  /** Waits for a line of output. */
  async line(re: RegExp, ms = 5_000): Promise<RegExpExecArray> {
    await this.until(`output ${re}`, () => re.test(this.output()), ms);
    return re.exec(this.output()) as RegExpExecArray;
  }

  private until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
    return until(`${what} from baresip ${this.label}`, check, ms);
  }

  output(): string {
    return this.run.output();
  }

  /** Every SIP message baresip sent or received (its `-s` trace). */
  trace(): TracedMessage[] {
    const out: TracedMessage[] = [];
    const block = /#\n(\w+) (\S+) -> (\S+)\n([\s\S]*?)\x1b\[;m/g;
    const text = this.output();
    for (let m = block.exec(text); m; m = block.exec(text)) {
      const raw = m[4] ?? "";
      out.push({
        transport: m[1] ?? "",
        src: m[2] ?? "",
        dst: m[3] ?? "",
        firstLine: raw.split("\r\n")[0] ?? "",
        raw,
      });
    }
    return out;
  }

  /** baresip's output and the events it reported, for an assertion message. */
  log(): string {
    const events = this.events
      .map(
        (e) =>
          `  +${e.at}ms ${e.type}${e.direction ? ` ${e.direction}` : ""}${e.param ? ` "${e.param}"` : ""}`,
      )
      .join("\n");
    const output = this.output().replace(/\x1b\[[0-9;]*m/g, "");
    return `--- baresip ${this.label} (${this.dir}), events:\n${events}\n--- its output:\n${output}--- end of baresip ${this.label}`;
  }

  /** Asks baresip to quit (SIGINT: it unregisters first); SIGKILL after `graceMs`. Removes its dir. */
  async stop(
    graceMs = 2_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
    this.socket?.destroy();
    if (this.run.child.exitCode === null && this.run.child.signalCode === null) this.run.child.kill("SIGINT");
    const killer = setTimeout(() => this.run.child.kill("SIGKILL"), graceMs);
    try {
      return await this.run.done;
    } finally {
      clearTimeout(killer);
      removeDir(this.dir);
    }
  }
}

/** Starts a baresip and keeps it with the test's phones. */
export async function startBaresip(phones: Phones, o: BaresipOptions): Promise<Baresip> {
  return phones.add(await Baresip.start(o));
}
