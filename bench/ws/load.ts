// Child of bench:ws: a closed-loop registration load over UDP or over SIP over WebSocket (RFC 7118),
// the same client code for both so that only the transport differs. Each of PHONES phones is one
// user of bench/user-set.ts with its own socket or WebSocket; it loops REGISTER → 401 → REGISTER
// with an MD5 digest (qop=auth) → 200, one request outstanding, as SIPp's sipp_register_auth.xml
// does in bench:sip. It runs until stdin says "stop" and then prints the counts.
//   node --import tsx bench/ws/load.ts udp|ws SIP_PORT HTTP_PORT PHONES
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import WebSocket from "ws";
import { digestHa1 } from "../../src/domain/secrets.js";
import { expectedResponse } from "../../src/sip/auth/digest.js";
import { printResult } from "../proc.js";
import { domainOf, passwordOf, tenantOf, userOf } from "../user-set.js";

export type LoadCounts = { ok: number; failed: number; timeouts: number };

const [transport, sipPort, httpPort, phones] = [
  process.argv[2],
  Number(process.argv[3]),
  Number(process.argv[4]),
  Number(process.argv[5]),
];
if ((transport !== "udp" && transport !== "ws") || !(sipPort > 0) || !(httpPort > 0) || !(phones > 0)) {
  process.stderr.write("usage: load.ts udp|ws SIP_PORT HTTP_PORT PHONES\n");
  process.exit(2);
}

const counts: LoadCounts = { ok: 0, failed: 0, timeouts: 0 };
const hex = (n: number) => randomBytes(n).toString("hex");
/** A request unanswered this long is counted and the phone starts over (UDP has no retransmission here). */
const TIMEOUT_MS = 2_000;

interface Wire {
  /** Via sent-by and Contact host:port */
  sentBy: string;
  send(text: string): void;
  onMessage(cb: (text: string) => void): void;
}

async function wireOf(): Promise<Wire> {
  if (transport === "udp") {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    return {
      sentBy: `127.0.0.1:${s.address().port}`,
      send: (text) => s.send(text, sipPort, "127.0.0.1"),
      onMessage: (cb) => s.on("message", (m) => cb(m.toString("latin1"))),
    };
  }
  const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/sip`, "sip");
  await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject));
  return {
    // RFC 7118 §5.2: a WebSocket client's Via and Contact name a host that is never resolved.
    sentBy: `${hex(4)}.invalid`,
    send: (text) => ws.send(text),
    onMessage: (cb) => ws.on("message", (m: Buffer) => cb(m.toString("latin1"))),
  };
}

/** One phone's loop; resolves never (the process exits on "stop"). */
async function phone(n: number): Promise<void> {
  const wire = await wireOf();
  const [user, domain, password] = [userOf(n), domainOf(tenantOf(n)), passwordOf(n)];
  // Once per phone: the load client's own CPU must stay small beside the server's.
  const ha1 = digestHa1(user, domain, password).md5;
  const callId = `${hex(8)}@bench-ws`;
  const tag = hex(4);
  const viaTransport = transport === "ws" ? "WS" : "UDP";
  const contactParam = transport === "ws" ? ";transport=ws" : "";
  let cseq = 0;
  let waiting: ((text: string | undefined) => void) | undefined;
  wire.onMessage((text) => {
    const w = waiting;
    waiting = undefined;
    w?.(text);
  });
  const request = (authorization?: string) => {
    cseq += 1;
    const lines = [
      `REGISTER sip:${domain} SIP/2.0`,
      `Via: SIP/2.0/${viaTransport} ${wire.sentBy};branch=z9hG4bK${hex(6)};rport`,
      "Max-Forwards: 70",
      `From: <sip:${user}@${domain}>;tag=${tag}`,
      `To: <sip:${user}@${domain}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:${user}@${wire.sentBy}${contactParam}>`,
      "Expires: 600",
      ...(authorization ? [`Authorization: ${authorization}`] : []),
      "Content-Length: 0",
      "",
      "",
    ];
    return new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => {
        waiting = undefined;
        resolve(undefined);
      }, TIMEOUT_MS);
      waiting = (text) => {
        clearTimeout(timer);
        resolve(text);
      };
      wire.send(lines.join("\r\n"));
    });
  };
  for (;;) {
    const challenge = await request();
    if (challenge === undefined) {
      counts.timeouts++;
      continue;
    }
    // The MD5 challenge among the WWW-Authenticate headers (sipext offers SHA-256 first, RFC 8760).
    const md5Challenge = [...challenge.matchAll(/\r\nWWW-Authenticate:[ \t]*([^\r]*)/gi)]
      .map((m) => m[1] ?? "")
      .find((v) => /algorithm=MD5/i.test(v));
    const nonce = md5Challenge && /nonce="([^"]+)"/.exec(md5Challenge)?.[1];
    if (!challenge.startsWith("SIP/2.0 401") || !nonce) {
      counts.failed++;
      continue;
    }
    const uri = `sip:${domain}`;
    const [nc, cnonce] = ["00000001", hex(4)];
    const credentials = {
      username: user,
      realm: domain,
      nonce,
      uri,
      response: "",
      algorithm: "MD5" as const,
    };
    const response = expectedResponse(ha1, "REGISTER", { ...credentials, qop: "auth", nc, cnonce });
    const answer = await request(
      `Digest username="${user}",realm="${domain}",nonce="${nonce}",uri="${uri}",response="${response}",` +
        `algorithm=MD5,qop=auth,nc=${nc},cnonce="${cnonce}"`,
    );
    if (answer === undefined) counts.timeouts++;
    else if (answer.startsWith("SIP/2.0 200")) counts.ok++;
    else counts.failed++;
  }
}

for (let n = 1; n <= phones; n++) void phone(n);
let marks = 0;
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  // "mark": print the counts so far (a measuring window starts or ends); "stop": print and exit.
  for (const word of chunk.split(/\s+/).filter(Boolean)) {
    printResult({ mark: ++marks, ...counts });
    if (word === "stop") process.exit(0);
  }
});
