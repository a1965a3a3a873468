// Runs SIPp (Debian `sip-tester`, 3.6.1) as a child process against the server under test and
// hands back what it did: the exit code (0 = every call succeeded, 1 = some failed, 254 = could not
// bind, …) and every SIP message it sent or received, read back from its `-trace_msg` file.
// Every run is bounded: `-m` calls, `-timeout` with `-timeout_error`, and a SIGKILL a few seconds
// later should SIPp itself hang. `spawnBounded` does the same for the other clients (sipsak,
// baresip, linphonec), and `killChildren()` (for afterAll) ends whatever this process started and is still running.
//
// Writing scenarios for SIPp 3.6: attribute values must be double-quoted (its XML reader takes a
// single-quoted value up to the next double quote, silently), so a quote inside a regexp is
// written &quot;; and every variable an <ereg> assigns must be read again somewhere (SIPp refuses
// a variable referenced once), which is why the scenarios <log> them.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const SCENARIO_DIR = fileURLToPath(new URL("./scenarios/", import.meta.url));

export type SippTransport = "u1" | "t1";

export interface SippOptions {
  /** file name in test/e2e/scenarios/ */
  scenario: string;
  /** the registrar's SIP port (UDP and TCP share it) */
  port: number;
  host?: string;
  /** `-t`: u1 = UDP on one socket, t1 = TCP on one connection */
  transport: SippTransport;
  /** `-key name value`: `[name]` in the scenario becomes `value` */
  keys?: Record<string, string | number>;
  /** `-m`, default 1 */
  calls?: number;
  /** `-timeout`, seconds, default 10 */
  timeoutS?: number;
  /** a fixed local port; by default a random one from 20000-60000, retried when taken */
  localPort?: number;
  extraArgs?: string[];
}

export interface TraceMessage {
  direction: "sent" | "received";
  transport: "UDP" | "TCP";
  /** the message exactly as it went over the wire */
  raw: string;
  firstLine: string;
  /** values of every header with this name (case-insensitive; compact forms not expanded) */
  headers(name: string): string[];
  /** header names in order, as spelled */
  headerNames: string[];
  status: number | undefined;
}

export interface SippResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  localPort: number;
  messages: TraceMessage[];
  sent: TraceMessage[];
  received: TraceMessage[];
  /** `-trace_err`: unexpected messages, if any */
  errors: string;
  /** `-trace_logs`: the scenario's <log> actions */
  logs: string;
  output: string;
}

const running = new Set<ChildProcess>();

/** Kills every client this process started that is still running (for afterAll). */
export function killChildren(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}

export interface BoundedRun {
  child: ChildProcess;
  /** stdout and stderr so far */
  output(): string;
  /** resolves when the process has ended (killed with SIGKILL after `timeoutMs` at the latest) */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

/**
 * Starts a client process that cannot outlive `timeoutMs`; with `stdin`, the test writes to its
 * standard input (`child.stdin`), as a user types commands.
 */
export function spawnBounded(
  cmd: string,
  args: string[],
  timeoutMs: number,
  cwd?: string,
  more: { stdin?: boolean; env?: NodeJS.ProcessEnv } = {},
): BoundedRun {
  const child = spawn(cmd, args, {
    stdio: [more.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    cwd,
    env: more.env,
  });
  running.add(child);
  let output = "";
  const collect = (d: Buffer) => {
    if (output.length < 500_000) output += d.toString("latin1");
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>(
    (resolve, reject) => {
      child.on("error", (err) => {
        clearTimeout(killer);
        running.delete(child);
        reject(err);
      });
      child.on("close", (code, signal) => {
        clearTimeout(killer);
        running.delete(child);
        resolve({ code, signal, output });
      });
    },
  );
  return { child, output: () => output, done };
}

export function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 40_000);
}

function readIfThere(path: string): string {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return "";
  }
}

/** Reads a `-trace_msg` file: every entry gives its length in bytes, so messages are cut exactly. */
export function parseTrace(text: string): TraceMessage[] {
  const out: TraceMessage[] = [];
  const head =
    /^-+ \d{4}-\d\d-\d\d [\d:.]+\n(UDP|TCP) message (sent|received) (?:\((\d+) bytes\):|\[(\d+)\] bytes :)\n\n/gm;
  for (let m = head.exec(text); m; m = head.exec(text)) {
    const len = Number(m[3] ?? m[4]);
    const raw = text.slice(head.lastIndex, head.lastIndex + len);
    out.push(traceMessage(m[2] as "sent" | "received", m[1] as "UDP" | "TCP", raw));
  }
  return out;
}

function traceMessage(direction: "sent" | "received", transport: "UDP" | "TCP", raw: string): TraceMessage {
  const headerBlock = raw.split("\r\n\r\n")[0] ?? "";
  const [firstLine = "", ...lines] = headerBlock.split("\r\n");
  const parsed: Array<[string, string]> = [];
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i > 0) parsed.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  const status = /^SIP\/2\.0 (\d{3}) /.exec(firstLine);
  return {
    direction,
    transport,
    raw,
    firstLine,
    headerNames: parsed.map(([n]) => n),
    headers: (name) => parsed.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v),
    status: status ? Number(status[1]) : undefined,
  };
}

/** A SIPp run in the background (a device waiting for calls): its process and, later, its result. */
export interface SippRun {
  localPort: number;
  child: ChildProcess;
  /** settles when SIPp has ended (at its -timeout, or killed a few seconds later at the latest) */
  result: Promise<SippResult>;
}

/** Starts a scenario without waiting for it (one attempt: the local port may turn out taken). */
export function startSipp(opts: SippOptions, localPort = opts.localPort ?? randomPort()): SippRun {
  const dir = mkdtempSync(join(tmpdir(), "sipext-sipp-"));
  const timeoutS = opts.timeoutS ?? 10;
  const args = [
    `${opts.host ?? "127.0.0.1"}:${opts.port}`,
    "-sf",
    join(SCENARIO_DIR, opts.scenario),
    "-t",
    opts.transport,
    "-i",
    "127.0.0.1",
    "-p",
    String(localPort),
    "-bind_local",
    "-m",
    String(opts.calls ?? 1),
    "-nostdin",
    "-timeout",
    `${timeoutS}s`,
    "-timeout_error",
    "-trace_msg",
    "-message_file",
    join(dir, "messages.log"),
    "-trace_err",
    "-error_file",
    join(dir, "errors.log"),
    "-trace_logs",
    "-log_file",
    join(dir, "logs.log"),
  ];
  for (const [k, v] of Object.entries(opts.keys ?? {})) args.push("-key", k, String(v));
  args.push(...(opts.extraArgs ?? []));
  // SIPp ends itself at -timeout; the kill is for a SIPp that does not.
  const run = spawnBounded("sipp", args, (timeoutS + 5) * 1000);
  const result = (async (): Promise<SippResult> => {
    try {
      const { code, signal, output } = await run.done;
      const messages = parseTrace(readIfThere(join(dir, "messages.log")));
      return {
        exitCode: code,
        signal,
        localPort,
        messages,
        sent: messages.filter((m) => m.direction === "sent"),
        received: messages.filter((m) => m.direction === "received"),
        errors: readIfThere(join(dir, "errors.log")),
        logs: readIfThere(join(dir, "logs.log")),
        output,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return { localPort, child: run.child, result };
}

function runOnce(opts: SippOptions, localPort: number): Promise<SippResult> {
  return startSipp(opts, localPort).result;
}

/** Runs a scenario to its end; retries on another random local port when the one picked was taken. */
export async function runSipp(opts: SippOptions): Promise<SippResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await runOnce(opts, opts.localPort ?? randomPort());
    const bindFailed =
      result.exitCode === 254 && /Unable to bind|Address already in use/i.test(result.output);
    if (!bindFailed || opts.localPort !== undefined || attempt >= 8) return result;
  }
}

/** A short account of a run, for assertion messages. */
export function describeRun(r: SippResult): string {
  const flow = r.messages.map((m) => `${m.direction === "sent" ? ">" : "<"} ${m.firstLine}`).join("\n");
  return `sipp exit ${r.exitCode}${r.signal ? ` (${r.signal})` : ""}\n${flow}\n${r.errors}\n${r.output.slice(-1500)}`;
}
