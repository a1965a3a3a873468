// Runs linphonec (Debian `linphone-cli`, Linphone 5.1), the console front end of liblinphone — the
// SIP stack of the Linphone apps — headless: its commands come on standard input as a user types
// them (`call <uri>`, `answer`, `pause`, `resume`, `terminate`, `status register`, `quit`), its
// answers and call states on standard output ("Call 1 with sip:… connected."), and, at log level
// 6 (`-d 6 -l <file>`), every SIP message it sends or receives in its log file.
//
// The account is written into a linphonerc as the Linphone apps store it (`[proxy_0]`,
// `[auth_info_0]`): identity `sip:<extension>@<customer domain>`, the extension and password as
// credentials in the customer's realm, and either
// - `proxy: "outbound"` (default): sipext's address as the proxy and as the outbound Route
//   (`reg_route`), what the README's "Registering a phone" gives; or
// - `proxy: "domain"`: only the customer's domain as the SIP server, as VoIPbin's quickstart sets
//   Linphone up — the domain must then resolve (./hosts.ts).
// Each linphonec gets its own HOME (liblinphone keeps a database under ~/.local/share/linphone and
// does not start without it), a random SIP port (-1) and a random RTP port range; it has no sound
// card and plays nothing. It is bounded: SIGKILL after `timeoutS`.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeDir } from "../helpers/harness.js";
import { cutMessages, until } from "../sip/raw-sip.js";
import type { TracedMessage } from "./baresip.js";
import type { Phone, Phones } from "./phones.js";
import { type BoundedRun, spawnBounded } from "./sipp.js";

export type LinphoneTransport = "udp" | "tcp";

export interface LinphoneOptions {
  ext: string;
  password: string;
  /** the customer's SIP domain */
  domain: string;
  /** sipext's SIP port on 127.0.0.1 */
  sipPort: number;
  transport: LinphoneTransport;
  /** "outbound": sipext as proxy and outbound Route (default); "domain": only the domain */
  proxy?: "outbound" | "domain";
  /** `-a`: answer every call at once */
  autoAnswer?: boolean;
  label?: string;
  /** SIGKILL after this many seconds (default 40) */
  timeoutS?: number;
  /** the linphonerc as given (e.g. one that only names a provisioning URI), instead of linphonerc() */
  rc?: string;
}

/** The linphonerc of an account set up as `o` says. */
export function linphonerc(o: LinphoneOptions): string {
  const server = o.proxy === "domain" ? o.domain : "127.0.0.1";
  const proxy = `<sip:${server}:${o.sipPort};transport=${o.transport}>`;
  const rtp = 20_000 + 100 * Math.floor(Math.random() * 400);
  return [
    "[sip]",
    `sip_port=${o.transport === "udp" ? -1 : 0}`,
    `sip_tcp_port=${o.transport === "tcp" ? -1 : 0}`,
    "sip_tls_port=0",
    "default_proxy=0",
    "[rtp]",
    `audio_rtp_port=${rtp}-${rtp + 99}`,
    "[proxy_0]",
    `reg_proxy=${proxy}`,
    ...(o.proxy === "domain" ? [] : [`reg_route=<sip:127.0.0.1:${o.sipPort};transport=${o.transport};lr>`]),
    `reg_identity=<sip:${o.ext}@${o.domain}>`,
    "reg_expires=600",
    "reg_sendregister=1",
    "publish=0",
    "[auth_info_0]",
    `username=${o.ext}`,
    `userid=${o.ext}`,
    `passwd=${o.password}`,
    `realm=${o.domain}`,
    "",
  ].join("\n");
}

const STAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3} /;

export class Linphone implements Phone {
  private constructor(
    readonly label: string,
    readonly dir: string,
    readonly run: BoundedRun,
  ) {}

  /** Starts linphonec and keeps it with the test's phones; resolves at its first prompt. */
  static async start(phones: Phones, o: LinphoneOptions): Promise<Linphone> {
    const dir = mkdtempSync(join(tmpdir(), "sipext-linphone-"));
    mkdirSync(join(dir, "home", ".local", "share", "linphone"), { recursive: true });
    writeFileSync(join(dir, "linphonerc"), o.rc ?? linphonerc(o));
    const args = ["-oL", "linphonec", "-c", join(dir, "linphonerc"), "-d", "6", "-l", join(dir, "log")];
    if (o.autoAnswer) args.push("-a");
    // stdbuf: a line of output as soon as linphonec prints it, although its stdout is a pipe.
    const run = spawnBounded("stdbuf", args, (o.timeoutS ?? 40) * 1000, dir, {
      stdin: true,
      env: { ...process.env, HOME: join(dir, "home") },
    });
    const phone = phones.add(new Linphone(o.label ?? o.ext, dir, run));
    await phone.line(/linphonec> /);
    return phone;
  }

  /** Types a command. */
  command(text: string): void {
    this.run.child.stdin?.write(`${text}\n`);
  }

  output(): string {
    return this.run.output();
  }

  /** Waits for output matching `re` after the first `from` characters. */
  async line(re: RegExp, ms = 10_000, from = 0): Promise<RegExpExecArray> {
    await until(`output ${re} from linphonec ${this.label}`, () => re.test(this.output().slice(from)), ms);
    return re.exec(this.output().slice(from)) as RegExpExecArray;
  }

  /**
   * Asks `status register` until linphonec says it is registered (it answers "registered=-1"
   * until it has read the registrar's 200); resolves with its answer.
   */
  async registered(ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const from = this.output().length;
      this.command("status register");
      const answer = await this.line(/registered(?:, identity=.*|=-?\d+)\r?\n/, 5_000, from);
      if (answer[0].startsWith("registered, ")) return answer[0].trim();
      if (Date.now() > deadline) throw new Error(`linphonec ${this.label} is not registered: ${answer[0]}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Every SIP message linphonec sent or received, from its log. */
  trace(): TracedMessage[] {
    let text = "";
    try {
      text = readFileSync(join(this.dir, "log"), "latin1");
    } catch {
      return [];
    }
    const lines = text.split("\n");
    const out: TracedMessage[] = [];
    const start =
      /channel \[[^\]]+\]: (?:message sent to \[(\w+):\/\/([^\]]+)\]|received \[\d+\] new bytes from \[(\w+):\/\/([^\]]+)\])/;
    for (let i = 0; i < lines.length; i++) {
      const m = start.exec(lines[i] ?? "");
      if (!m) continue;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && !STAMP.test(lines[j] ?? ""); j++) body.push(lines[j] ?? "");
      if (j === lines.length) break; // still being written
      // One read over TCP may carry several messages: cut them by Content-Length.
      const { messages, rest } = cutMessages(Buffer.from(body.join("\n"), "latin1"));
      const leftover = rest.toString("latin1").trim();
      const sent = m[1] !== undefined;
      for (const raw of leftover ? [...messages, leftover] : messages) {
        out.push({
          transport: (m[1] ?? m[3] ?? "").toUpperCase(),
          src: sent ? "linphonec" : (m[4] ?? ""),
          dst: sent ? (m[2] ?? "") : "linphonec",
          firstLine: raw.split(/\r?\n/)[0] ?? "",
          raw,
        });
      }
      i = j - 1;
    }
    return out;
  }

  /** What linphonec sent (`sent`) or received whose first line starts with `start`. */
  wire(direction: "sent" | "received", start: string): TracedMessage[] {
    return this.trace().filter(
      (m) => (direction === "sent") === (m.src === "linphonec") && m.firstLine.startsWith(start),
    );
  }

  log(): string {
    let errors = "";
    try {
      errors = readFileSync(join(this.dir, "log"), "latin1")
        .split("\n")
        .filter(
          (l) => /-(error|warning)-/.test(l) && !/alsa|soundcard|sound card|Could not find encoder/i.test(l),
        )
        .join("\n");
    } catch {
      // no log yet
    }
    const trace = this.trace()
      .map(
        (m) => `${m.src === "linphonec" ? `>>> sent to ${m.dst}` : `<<< received from ${m.src}`}\n${m.raw}`,
      )
      .join("\n");
    return `--- linphonec ${this.label} (${this.dir}), its output:\n${this.output()}\n--- its errors and warnings:\n${errors}\n--- its SIP messages:\n${trace}\n--- end of linphonec ${this.label}`;
  }

  /** Types `quit` (linphonec unregisters first); SIGKILL after `graceMs`. Removes its dir. */
  async stop(
    graceMs = 5_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
    const child = this.run.child;
    if (child.exitCode === null && child.signalCode === null) this.command("quit");
    const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    try {
      return await this.run.done;
    } finally {
      clearTimeout(killer);
      removeDir(this.dir);
    }
  }
}
