// Child of bench:attack: a flood of unauthenticated REGISTERs (each a new Call-ID, as a scanner or
// a DoS sends them) from one UDP socket on SOURCE to 127.0.0.1:PORT, RATE a second for SECONDS;
// counts the datagrams sent and the answers by status code, then prints its result.
//   node --import tsx bench/attack/flood.ts PORT SOURCE RATE SECONDS DOMAIN
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { printResult } from "../proc.js";

export type FloodResult = {
  sent: number;
  sendErrors: number;
  answers: Record<string, number>;
  seconds: number;
};

const [port, source, rate, seconds] = [
  Number(process.argv[2]),
  process.argv[3] ?? "127.0.0.4",
  Number(process.argv[4]),
  Number(process.argv[5]),
];
const domain = process.argv[6] ?? "flood.invalid";
const socket = createSocket("udp4");
await new Promise<void>((r) => socket.bind(0, source, () => r()));
socket.setSendBufferSize(8 * 1024 * 1024);
const local = socket.address().port;
const answers: Record<string, number> = {};
socket.on("message", (m) => {
  const code = /^SIP\/2\.0 (\d{3})/.exec(m.toString("latin1", 0, 16))?.[1] ?? "other";
  answers[code] = (answers[code] ?? 0) + 1;
});
const salt = randomBytes(4).toString("hex");
const register = (n: number) =>
  Buffer.from(
    [
      `REGISTER sip:${domain} SIP/2.0`,
      `Via: SIP/2.0/UDP ${source}:${local};branch=z9hG4bK-f${salt}${n};rport`,
      "Max-Forwards: 70",
      `From: <sip:flood${n % 1000}@${domain}>;tag=f${n}`,
      `To: <sip:flood${n % 1000}@${domain}>`,
      `Call-ID: f${salt}-${n}@flood`,
      "CSeq: 1 REGISTER",
      `Contact: <sip:flood@${source}:${local}>`,
      "Expires: 600",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
    "latin1",
  );

// Every 10 ms, the datagrams due by then: the rate holds even when a tick comes late.
let sent = 0;
let sendErrors = 0;
const started = performance.now();
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000;
    const due = Math.floor(Math.min(elapsed, seconds) * rate);
    for (; sent < due; sent++) {
      socket.send(register(sent), port, "127.0.0.1", (err) => {
        if (err) sendErrors++;
      });
    }
    if (elapsed >= seconds) {
      clearInterval(timer);
      resolve();
    }
  }, 10);
});
// Late answers (retransmitted ones included) for 2 s more.
await new Promise((r) => setTimeout(r, 2_000));
const result: FloodResult = { sent, sendErrors, answers, seconds: (performance.now() - started) / 1000 };
printResult(result);
socket.close();
process.exit(0);
