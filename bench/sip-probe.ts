// Readiness of a SIP server under test (bench:sip, bench:calls): a 200 to OPTIONS over UDP, then TCP
// accepted on the same port.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { createConnection } from "node:net";
import { type Child, sleep } from "./proc.js";

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

const optionsTo = (port: number, localPort: number) =>
  [
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK${hex(6)};rport`,
    "Max-Forwards: 70",
    `From: <sip:bench@127.0.0.1>;tag=${hex(4)}`,
    `To: <sip:127.0.0.1:${port}>`,
    `Call-ID: ${hex(8)}@bench`,
    "CSeq: 1 OPTIONS",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");

/** The first line of the reply to an OPTIONS to 127.0.0.1:port over UDP (undefined after 500 ms). */
function options(port: number): Promise<string | undefined> {
  const s = createSocket("udp4");
  const reply = new Promise<string | undefined>((resolve) => {
    setTimeout(() => resolve(undefined), 500).unref();
    s.on("message", (msg) => resolve(msg.toString("latin1").split("\r\n")[0]));
    s.on("error", () => resolve(undefined));
  });
  s.bind(0, "127.0.0.1", () => s.send(optionsTo(port, s.address().port), port, "127.0.0.1"));
  return reply.finally(() => s.close());
}

function tcpAccepted(port: number): Promise<boolean> {
  const c = createConnection({ host: "127.0.0.1", port });
  const accepted = new Promise<boolean>((resolve) =>
    c.on("connect", () => resolve(true)).on("error", () => resolve(false)),
  );
  return accepted.finally(() => c.destroy());
}

/** Resolves once `server` answers OPTIONS on 127.0.0.1:port with 200 and accepts TCP there (≤ 60 s). */
export async function waitForSip(server: Child, port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!server.running) throw server.failure("exited during start-up");
    if (Date.now() > deadline) throw server.failure("did not answer SIP OPTIONS and accept TCP within 60 s");
    if ((await options(port))?.startsWith("SIP/2.0 200") && (await tcpAccepted(port))) return;
    await sleep(200);
  }
}
