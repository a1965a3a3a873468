// Helpers for the call tests (calls.test.ts): SIPp devices registered as extensions, and ways to
// read their traces.
//
// A device is one SIPp process that registers (scenarios/calls/device.xml) and then stays up on
// the same socket, over TCP on the same connection, which is the flow the proxy sends calls
// down. SIPp maps messages to calls by Call-ID, so the call it receives is played by its
// out-of-call scenario (-oocsf): scenarios/calls/answer.xml, ring.xml, ... Each of those ends
// with `stop_now`, so a device that played its whole part exits with code 97 at once; one that
// did not is ended by stop() (SIGTERM: SIPp still writes its trace and exits 0).
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { join } from "node:path";
import {
  randomPort,
  SCENARIO_DIR,
  type SippResult,
  type SippRun,
  startSipp,
  type TraceMessage,
} from "./sipp.js";

/** SIPp's exit code after `<exec int_cmd="stop_now"/>`: the out-of-call scenario reached its end. */
export const PLAYED = 97;

export interface Device {
  /** the local port the device registered from and answers on */
  port: number;
  transport: "UDP" | "TCP";
  /** resolves when SIPp has ended (its part played, stop(), or its -d pause over) */
  result: Promise<SippResult>;
  /** ends the device now if it is still running, and hands back its run */
  stop(): Promise<SippResult>;
}

export interface DeviceOptions {
  sipPort: number;
  transport: "UDP" | "TCP";
  user: string;
  pass: string;
  domain: string;
  /** the out-of-call scenario, in scenarios/calls/ */
  plays: string;
  /** the registering scenario, in scenarios/calls/ (default device.xml) */
  registers?: string;
  /** true when the location service holds a binding from this local port */
  registered(localPort: number): boolean;
  /** how long the device stays up at most (ms) */
  lifetimeMs?: number;
}

const sippTransport = (t: "UDP" | "TCP") => (t === "UDP" ? "u1" : "t1");

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Starts a device and waits until its registration is in the location service. */
export async function startDevice(o: DeviceOptions): Promise<Device> {
  const lifetimeMs = o.lifetimeMs ?? 25_000;
  for (let attempt = 1; ; attempt++) {
    const run: SippRun = startSipp(
      {
        scenario: `calls/${o.registers ?? "device.xml"}`,
        port: o.sipPort,
        transport: sippTransport(o.transport),
        keys: { user: o.user, pass: o.pass, domain: o.domain },
        timeoutS: Math.ceil(lifetimeMs / 1000) + 5,
        extraArgs: ["-oocsf", join(SCENARIO_DIR, "calls", o.plays), "-d", String(lifetimeMs)],
      },
      randomPort(),
    );
    let ended: SippResult | undefined;
    void run.result.then((r) => {
      ended = r;
    });
    const until = Date.now() + 10_000;
    while (!ended && !o.registered(run.localPort) && Date.now() < until) await sleep(20);
    if (ended) {
      // The random port was taken: another one.
      if (ended.exitCode === 254 && attempt < 8) continue;
      throw new Error(
        `the device ended before registering: exit ${ended.exitCode}\n${ended.output.slice(-1500)}`,
      );
    }
    if (!o.registered(run.localPort)) {
      run.child.kill("SIGKILL");
      const r = await run.result;
      throw new Error(`the device did not register\n${r.output.slice(-1500)}`);
    }
    return {
      port: run.localPort,
      transport: o.transport,
      result: run.result,
      async stop() {
        if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGTERM");
        return run.result;
      },
    };
  }
}

/** Waits for a device to end by itself (its part played), at most `ms`; then stops it. */
export async function finished(d: Device, ms = 10_000): Promise<SippResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((r) => {
    timer = setTimeout(() => r("late"), ms);
  });
  const first = await Promise.race([d.result, late]);
  clearTimeout(timer);
  return first === "late" ? d.stop() : first;
}

/** The CSeq method of a message. */
export const cseqMethod = (m: TraceMessage) => (m.headers("CSeq")[0] ?? "").split(/\s+/)[1] ?? "";

/** Requests of this method the run received. */
export const requestsIn = (r: SippResult, method: string) =>
  r.received.filter((m) => m.status === undefined && m.firstLine.startsWith(`${method} `));

/** Responses the run received, optionally only those of one status and CSeq method. */
export const responsesIn = (r: SippResult, status?: number, method?: string) =>
  r.received.filter(
    (m) =>
      m.status !== undefined &&
      (status === undefined || m.status === status) &&
      (method === undefined || cseqMethod(m) === method),
  );

/** Statuses of the responses the run received, in order. */
export const statusesIn = (r: SippResult) => responsesIn(r).map((m) => m.status);

/** Every Via value of a message, one per entry (comma-joined lists split). */
export function viasOf(m: TraceMessage): string[] {
  return [...m.headers("Via"), ...m.headers("v")].flatMap((v) =>
    v.split(/,(?=\s*SIP\/)/).map((s) => s.trim()),
  );
}

/** Every Record-Route (or Route) entry of a message, one per URI. */
export function routeEntries(m: TraceMessage, name: "Record-Route" | "Route"): string[] {
  return m.headers(name).flatMap((v) => v.split(/,(?=\s*<)/).map((s) => s.trim()));
}

/** The branch parameter of a Via value. */
export const branchOf = (via: string | undefined) => /;branch=([^;,\s]+)/.exec(via ?? "")?.[1] ?? "";

/** First lines of the SIP responses in some bytes received. */
const statusLines = (text: string) => text.split("\r\n").filter((l) => /^SIP\/2\.0 \d{3} /.test(l));

/** Sends one datagram from a fresh socket and collects the first lines of what comes back in `ms`. */
export async function udpExchange(port: number, data: Buffer, ms = 700): Promise<string[]> {
  const socket = createSocket("udp4");
  const got: string[] = [];
  socket.on("message", (m) => got.push(...statusLines(m.toString("latin1"))));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  await new Promise<void>((resolve, reject) =>
    socket.send(data, port, "127.0.0.1", (err) => (err ? reject(err) : resolve())),
  );
  await sleep(ms);
  socket.close();
  return got;
}

/**
 * Writes some bytes on a fresh TCP connection and collects the first lines of what comes back
 * in `ms`, and whether the server closed the connection meanwhile.
 */
export function tcpExchange(
  port: number,
  data: Buffer,
  ms = 700,
): Promise<{ lines: string[]; closedByServer: boolean }> {
  return new Promise((resolve) => {
    let text = "";
    let closedByServer = true;
    const socket = connect(port, "127.0.0.1", () => socket.write(data));
    socket.on("data", (d) => {
      text += d.toString("latin1");
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve({ lines: statusLines(text), closedByServer }));
    setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, ms);
  });
}
