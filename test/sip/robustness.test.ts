// Malformed SIP never crashes or stalls the server (CONTRACT §7): what can be answered gets a
// response whose reason names the problem, garbage is dropped and counted, and after every case
// a plain OPTIONS is still answered at once.
import { randomBytes } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { digestHa1 } from "../../src/domain/secrets.js";
import { digestChallenger } from "../../src/sip/auth/challenge.js";
import { expectedResponse } from "../../src/sip/auth/digest.js";
import { NonceService } from "../../src/sip/auth/nonce.js";
import { UNOBSERVED } from "../../src/sip/observer.js";
import { registerUas } from "../../src/sip/registrar/register-uas.js";
import type { Registrar } from "../../src/sip/registrar/registrar.js";
import { type SipServer, startSipServer } from "../../src/sip/stack.js";
import { Connections } from "../../src/sip/transport/connections.js";
import type { Flow, TransportStats } from "../../src/sip/transport/flow.js";
import { type StreamOptions, startTcp } from "../../src/sip/transport/stream.js";
import { client, DATABASES, type Harness, startHarness, stopHarness } from "../helpers/harness.js";
import {
  buildRequest,
  headerOf,
  type RawResponse,
  type RequestSpec,
  sleep,
  TcpPeer,
  token,
  UdpPeer,
  until,
} from "./raw-sip.js";

/** How long a live server may take to answer an OPTIONS after a bad case. */
const ALIVE_MS = 1_000;
/** How long to listen for an answer that must not come. */
const QUIET_MS = 150;

const EXT = "100";

describe.each(DATABASES)("malformed SIP on %s", (kind) => {
  let h: Harness;
  let udp: UdpPeer;
  let password: string;
  let sipPort: number;
  let domain: string;
  const tcpPeers: TcpPeer[] = [];

  const stats = () => h.server.sip.stats;
  const udpRequest = (spec: RequestSpec = {}) =>
    buildRequest({ transport: "UDP", port: udp.port }, domain, spec);
  const tcpRequest = (peer: TcpPeer, spec: RequestSpec = {}) =>
    buildRequest({ transport: "TCP", port: peer.localPort }, domain, spec);
  const tcp = async () => {
    const peer = await TcpPeer.open(sipPort);
    tcpPeers.push(peer);
    return peer;
  };

  /** Sends a request over UDP and returns the response (failing the test if none comes). */
  async function askUdp(spec: RequestSpec | string, callId?: string): Promise<RawResponse> {
    const req = typeof spec === "string" ? { text: spec, callId: callId ?? "" } : udpRequest(spec);
    await udp.send(req.text, sipPort);
    const r = await udp.response(req.callId);
    if (!r) throw new Error(`no response to:\n${req.text}`);
    return r;
  }

  /** Sends bytes that must go unanswered: nothing comes back and the garbage count grows. */
  async function expectDropped(data: string | Buffer): Promise<void> {
    const before = stats().garbage;
    const inbox = udp.inbox.length;
    await udp.send(data, sipPort);
    await until("the datagram to be counted as garbage", () => stats().garbage > before, 2_000);
    await sleep(QUIET_MS);
    expect(stats().garbage).toBe(before + 1);
    expect(udp.inbox.slice(inbox)).toEqual([]);
  }

  /** The server still answers a plain OPTIONS with 200, quickly, over UDP and TCP. */
  async function expectAlive(): Promise<void> {
    const started = Date.now();
    const req = udpRequest();
    await udp.send(req.text, sipPort);
    const r = await udp.response(req.callId, ALIVE_MS);
    expect(r?.status, "OPTIONS over UDP after the case").toBe(200);
    const peer = await tcp();
    const t = tcpRequest(peer);
    await peer.write(t.text);
    expect((await peer.response(t.callId, ALIVE_MS))?.status, "OPTIONS over TCP after the case").toBe(200);
    expect(Date.now() - started).toBeLessThan(ALIVE_MS);
  }

  /** A REGISTER for extension 100 as a client would first send it; `extra` adds or replaces lines. */
  const register = (spec: RequestSpec = {}): RequestSpec => {
    const extra = spec.extra ?? [];
    const named = (line: string) => line.slice(0, line.indexOf(":")).toLowerCase();
    const defaults = [`Contact: <sip:${EXT}@127.0.0.1:${udp.port}>`, "Expires: 600"].filter(
      (d) => !extra.some((e) => named(e) === named(d)),
    );
    return {
      method: "REGISTER",
      from: `<sip:${EXT}@${domain}>;tag=${token(4)}`,
      to: `<sip:${EXT}@${domain}>`,
      ...spec,
      extra: [...defaults, ...extra],
    };
  };

  beforeAll(async () => {
    h = await startHarness(kind);
    sipPort = h.server.sip.port;
    domain = h.admin.domainName;
    password = h.secret(`Robust-${token()}`);
    const created = await client(h.url, h.admin.token).post("/v1.0/extensions", {
      name: "robust",
      extension: EXT,
      password,
    });
    expect(created.status).toBe(200);
    udp = await UdpPeer.open();
  });

  afterEach(async () => {
    try {
      await expectAlive();
    } finally {
      for (const p of tcpPeers.splice(0)) p.close();
    }
  });

  afterAll(async () => {
    await udp?.close();
    await stopHarness(h);
  });

  describe("over UDP", () => {
    it("answers a plain OPTIONS with 200 and the methods it allows", async () => {
      const r = await askUdp({});
      expect(r.status).toBe(200);
      expect(headerOf(r, "allow")).toMatch(/^REGISTER, OPTIONS, INVITE, ACK, CANCEL, BYE\b/);
    });

    it("drops a message cut inside its Request-Line, its Via or a header line, counting each as garbage", async () => {
      const { text } = udpRequest(register());
      const cuts = [
        text.indexOf(" ") + 5, // inside the Request-URI
        text.indexOf("Via:") + 12, // inside the Via
        text.indexOf("Contact:") + 14, // inside the Contact, after every mandatory header
        text.length - 3, // between the CR and LF ending the last header line
      ];
      for (const cut of cuts) await expectDropped(text.slice(0, cut));
    });

    it("answers a datagram that stops right after its last header line as one without a body", async () => {
      const req = udpRequest(register());
      const r = await askUdp(req.text.slice(0, -2), req.callId);
      expect(r.status).toBe(401);
      expect(headerOf(r, "www-authenticate")).toMatch(/^Digest realm=/);
    });

    it("answers 400 naming Content-Length when it is larger than the body", async () => {
      const r = await askUdp({ body: "v=0\r\n", contentLength: 50 });
      expect(r.status).toBe(400);
      expect(r.reason).toMatch(/Content-Length/);
    });

    it("answers 400 naming Content-Length when it is not a number", async () => {
      const r = await askUdp({ contentLength: "ten" });
      expect(r.status).toBe(400);
      expect(r.reason).toMatch(/Content-Length/);
    });

    it("answers a 64 KiB datagram within the parser's limit and drops 64 KiB of random bytes", async () => {
      const req = udpRequest({ extra: [`X-Padding: ${"a".repeat(65_000)}`] });
      expect(Buffer.byteLength(req.text)).toBeGreaterThan(65_000);
      const r = await askUdp(req.text, req.callId);
      expect(r.status).toBe(200);
      await expectDropped(randomBytes(65_507)); // the largest UDP payload over IPv4
    });

    it("drops thousands of datagrams of random bytes without answering any", async () => {
      const n = 3_000;
      const before = stats().garbage;
      const inbox = udp.inbox.length;
      for (let i = 0; i < n; i += 50) {
        for (let j = 0; j < 50; j++) await udp.send(randomBytes(1 + ((i + j) % 1_400)), sipPort);
        // Pace the burst so that the kernel's socket buffer never overflows.
        await until("the batch to be read", () => stats().garbage >= before + i + 50, 5_000);
      }
      await sleep(QUIET_MS);
      expect(stats().garbage).toBe(before + n);
      expect(udp.inbox.length).toBe(inbox);
      expect(udp.other).toEqual([]);
    }, 60_000);

    it.each(["Via", "Call-ID", "CSeq", "From", "To"])(
      "drops a request without a %s header: no response could be matched to it",
      async (name) => {
        await expectDropped(udpRequest({ ...register(), omit: [name] }).text);
      },
    );

    it("drops a request whose Via cannot be read, since there is nowhere to send a response", async () => {
      await expectDropped(udpRequest({ via: "SIP/2.0/UDP ;branch=z9hG4bKbad" }).text);
    });

    it.each([
      ["CSeq", { cseq: "one OPTIONS" }],
      ["CSeq", { cseq: `${2 ** 31} OPTIONS` }],
      ["From", { from: "<sip:probe@" }],
      ["To", { to: "sip:probe@example.test>;tag=" }],
      ["Call-ID", { callId: "has spaces in it" }],
      ["Max-Forwards", { extra: ["Max-Forwards: lots"] }],
      ["Contact", { extra: ["Contact: <sip:broken"] }],
    ] as Array<[string, RequestSpec]>)("answers 400 naming %s when it is malformed", async (name, spec) => {
      const req = udpRequest({ callId: `${token()}@test`, ...spec });
      await udp.send(req.text, sipPort);
      // A malformed Call-ID still comes back as sent, which is how the response is found.
      const r = await udp.response(req.callId);
      expect(r?.status).toBe(400);
      expect(r?.reason).toContain(name);
    });

    it("answers 400 naming CSeq when its method is not the request's", async () => {
      const r = await askUdp({ ...register(), cseq: "1 OPTIONS" });
      expect(r.status).toBe(400);
      expect(r.reason).toMatch(/CSeq method/);
    });

    it("answers an unknown method with 405 and the methods it allows", async () => {
      const r = await askUdp({ method: "FROBNICATE" });
      expect(r.status).toBe(405);
      expect(r.reason).toBe("Method Not Allowed");
      expect(headerOf(r, "allow")).toMatch(/^REGISTER, OPTIONS, INVITE, ACK, CANCEL, BYE\b/);
    });

    it("answers a SIP/3.0 request with 505 Version Not Supported", async () => {
      const r = await askUdp({ version: "SIP/3.0" });
      expect(r.status).toBe(505);
      expect(r.reason).toMatch(/Version/);
    });

    it("answers 400 naming the Request-Line when the version is not SIP at all", async () => {
      const r = await askUdp({ version: "HTTP/1.1" });
      expect(r.status).toBe(400);
      expect(r.reason).toMatch(/Request-Line/);
    });

    it.each(["REGISTER", "OPTIONS"])(
      "answers a %s whose Request-URI scheme is not SIP with 416 Unsupported URI Scheme",
      async (method) => {
        const spec = method === "REGISTER" ? register() : {};
        const r = await askUdp({ ...spec, method, uri: "http://example.test/register" });
        expect(r.status).toBe(416);
        expect(r.reason).toBe("Unsupported URI Scheme");
      },
    );

    it("answers 400 naming Expires when it is not a number", async () => {
      const r = await askUdp(register({ extra: ["Expires: soon"] }));
      expect(r.status).toBe(400);
      expect(r.reason).toMatch(/Expires/);
    });

    it("answers 400 naming Authorization when it cannot be read", async () => {
      const r = await askUdp(
        register({ extra: [`Authorization: Digest username="${EXT}", realm="${domain}", nonce`] }),
      );
      expect(r.status).toBe(400);
      expect(r.reason).toMatch(/Authorization/);
    });
  });

  describe("over TCP", () => {
    it("answers a double-CRLF keep-alive with a single CRLF", async () => {
      const peer = await tcp();
      await peer.write("\r\n\r\n");
      await until("the pong", () => peer.raw.length >= 2, ALIVE_MS);
      await sleep(QUIET_MS);
      expect(peer.raw.toString()).toBe("\r\n");
    });

    it("waits for the rest of a body shorter than its Content-Length, then answers", async () => {
      const peer = await tcp();
      const req = tcpRequest(peer, { body: "0123456789" });
      await peer.write(req.text.slice(0, -6));
      expect(await peer.response(req.callId, 300)).toBeUndefined();
      expect(peer.closed).toBe(false);
      // Meanwhile the server answers everyone else.
      await expectAlive();
      await peer.write(req.text.slice(-6));
      expect((await peer.response(req.callId))?.status).toBe(200);
    });

    it("closes a connection whose header block passes the maximum size without ending", async () => {
      const peer = await tcp();
      const before = stats().garbage;
      const line = `X-Filler: ${"b".repeat(1_000)}\r\n`;
      await peer.write(`OPTIONS sip:${domain} SIP/2.0\r\n`);
      for (let i = 0; i < 70 && !peer.closed; i++) await peer.write(line).catch(() => {});
      expect(await peer.closedWithin(2_000)).toBe(true);
      expect(peer.raw.length).toBe(0);
      expect(stats().garbage).toBe(before + 1);
    });

    it("closes a connection whose message has no Content-Length, since it cannot be framed", async () => {
      const peer = await tcp();
      const before = stats().garbage;
      await peer.write(tcpRequest(peer, { contentLength: null }).text);
      expect(await peer.closedWithin(2_000)).toBe(true);
      expect(stats().garbage).toBe(before + 1);
    });

    it("closes a connection that sends 70 KB of random bytes", async () => {
      const peer = await tcp();
      await peer.write(randomBytes(70_000)).catch(() => {});
      expect(await peer.closedWithin(2_000)).toBe(true);
      expect(peer.responses).toEqual([]);
    });

    it("answers a valid REGISTER dripped one byte every few milliseconds with its 401", async () => {
      const peer = await tcp();
      const req = tcpRequest(peer, register());
      const bytes = Buffer.from(req.text);
      for (let i = 0; i < bytes.length; i++) {
        await peer.write(bytes.subarray(i, i + 1));
        await sleep(2);
      }
      const r = await peer.response(req.callId);
      expect(r?.status).toBe(401);
      expect(r && headerOf(r, "www-authenticate")).toMatch(/algorithm=MD5/);
    }, 20_000);

    it("answers a message split at odd places, and each of several sent in one segment", async () => {
      const peer = await tcp();
      const split = tcpRequest(peer, { body: "a=1\r\n" });
      const text = split.text;
      const cuts = [
        1,
        text.indexOf("SIP/2.0") + 4,
        text.indexOf("\r\n") + 1, // between CR and LF
        text.indexOf("Content-Length") + 9,
        text.indexOf("\r\n\r\n") + 3, // inside the empty line
        text.length - 1, // inside the body
      ];
      let from = 0;
      for (const cut of cuts) {
        await peer.write(text.slice(from, cut));
        await sleep(10); // separate segments
        from = cut;
      }
      expect(await peer.response(split.callId, 200)).toBeUndefined();
      await peer.write(text.slice(from));
      expect((await peer.response(split.callId))?.status).toBe(200);

      // Two messages and a keep-alive in one segment, the third message cut across two.
      const a = tcpRequest(peer);
      const b = tcpRequest(peer, { method: "FROBNICATE" });
      const c = tcpRequest(peer, { body: "x=y" });
      const mid = Math.floor(c.text.length / 2);
      await peer.write(`${a.text}\r\n\r\n${b.text}${c.text.slice(0, mid)}`);
      await sleep(10);
      await peer.write(c.text.slice(mid));
      await until("three more responses", () => peer.responses.length === 4);
      expect(peer.responses.map((r) => [headerOf(r, "call-id"), r.status])).toEqual([
        [split.callId, 200],
        [a.callId, 200],
        [b.callId, 405],
        [c.callId, 200],
      ]);
      // The keep-alive between the first two got its single CRLF, in order.
      expect(peer.raw.toString()).toContain("Content-Length: 0\r\n\r\n\r\nSIP/2.0 405");
    });
  });

  it("survives thousands of mutated REGISTERs over UDP with memory stable", async () => {
    // A REGISTER with valid credentials: each mutation exercises every header's parser.
    const first = await askUdp(register());
    const nonce = /nonce="([^"]+)"/.exec(headerOf(first, "www-authenticate") ?? "")?.[1] ?? "";
    const uri = `sip:${domain}`;
    const creds = {
      username: EXT,
      realm: domain,
      nonce,
      uri,
      response: "",
      algorithm: "MD5" as const,
      qop: "auth",
      nc: "00000001",
      cnonce: "f00d",
    };
    const response = expectedResponse(digestHa1(EXT, domain, password).md5, "REGISTER", creds);
    const authorization =
      `Authorization: Digest username="${EXT}", realm="${domain}", nonce="${nonce}", uri="${uri}", ` +
      `response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="f00d"`;
    const base = udpRequest(
      register({
        extra: [authorization, "User-Agent: fuzz/1.0", `Contact: <sip:${EXT}@127.0.0.1:5999;transport=udp>`],
      }),
    ).text;
    // The sent-by and rport are never mutated, so every answer comes back to this socket.
    const sentBy = `127.0.0.1:${udp.port};rport`;
    const guardFrom = base.indexOf(sentBy);
    const guardTo = guardFrom + sentBy.length;
    expect(guardFrom).toBeGreaterThan(0);

    let seed = 0x5eed;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed % n;
    };
    const outsideGuard = (at: number, len = 1) => at + len <= guardFrom || at >= guardTo;
    const mutate = (text: string): Buffer => {
      let b = Buffer.from(text);
      for (let k = 1 + rand(3); k > 0; k--) {
        const at = rand(b.length);
        const len = 1 + rand(12);
        if (!outsideGuard(at, len)) continue;
        switch (rand(7)) {
          case 0: // flip a byte
            b[at] = rand(256);
            break;
          case 1: // delete a run
            b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
            break;
          case 2: // duplicate a run
            b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
            break;
          case 3: // insert separators and quotes where they hurt
            b = Buffer.concat([
              b.subarray(0, at),
              Buffer.from([";", ",", '"', "<", ">", ":", "\r\n", " ", "\t", "\0"][rand(10)] ?? ""),
              b.subarray(at),
            ]);
            break;
          case 4: // truncate
            if (at > guardTo) b = b.subarray(0, at);
            break;
          case 5: // a digit becomes a huge number
            b = Buffer.concat([b.subarray(0, at), Buffer.from("99999999999999999999"), b.subarray(at)]);
            break;
          default: // a random byte run
            b = Buffer.concat([b.subarray(0, at), randomBytes(len), b.subarray(at)]);
        }
      }
      return b;
    };

    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const heap = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const send = async (n: number) => {
      for (let i = 0; i < n; i += 50) {
        for (let j = 0; j < 50; j++) await udp.send(mutate(base), sipPort);
        await sleep(4); // lets the server read the batch before the next
      }
    };

    await send(500); // warm-up: caches, pools and JIT settle
    await sleep(200);
    const seen = () => stats().requests + stats().garbage + stats().badRequests;
    const seenBefore = seen();
    const before = heap();
    await send(3_000);
    await sleep(300);
    const after = heap();
    udp.inbox.length = 0;

    // Every mutated datagram was read and dealt with (answered or dropped), none crashed.
    expect(seen() - seenBefore).toBeGreaterThanOrEqual(2_900);
    // The process keeps at most the answered transactions (until Timer J): kilobytes each.
    expect((after - before) / 1024 / 1024).toBeLessThan(16);
    await expectAlive();
  }, 90_000);
});

describe("TCP guards against slow and silent connections (startTcp)", () => {
  const servers: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });
  const start = async (opts: Partial<StreamOptions> & { binds?: boolean }) => {
    const stats: TransportStats = { garbage: 0, tcpConnections: 0, refused: 0, observer: UNOBSERVED };
    const seen: Buffer[] = [];
    const onMessage = (data: Buffer, flow: Flow) => {
      seen.push(data);
      // As the registrar does when a phone registered over the connection.
      if (opts.binds) flow.bound = true;
      flow.send(Buffer.from("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    };
    const t = await startTcp("127.0.0.1", 0, onMessage, stats, new Connections(), {
      ...opts,
      maxMessageSize: 65_535,
    });
    servers.push(t);
    return { port: t.port, stats, seen };
  };
  const message = "OPTIONS sip:x.test SIP/2.0\r\nContent-Length: 4\r\n\r\nbody";

  it("closes a connection whose message is still incomplete after messageMs, counting it as garbage", async () => {
    const s = await start({ messageMs: 200 });
    const peer = await TcpPeer.open(s.port);
    const sent = Date.now();
    await peer.write(message.slice(0, -2)); // Content-Length larger than what came
    expect(await peer.closedWithin(2_000)).toBe(true);
    const waited = (await peer.closedAt) - sent;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(1_500);
    expect(s.seen).toEqual([]);
    expect(s.stats.garbage).toBe(1);
    await until("the connection to be forgotten", () => s.stats.tcpConnections === 0, 1_000);
  });

  it("lets a dripped message finish within messageMs and keeps the connection", async () => {
    const s = await start({ messageMs: 1_500 });
    const peer = await TcpPeer.open(s.port);
    for (const ch of message) {
      await peer.write(ch);
      await sleep(1);
    }
    await until("the message", () => s.seen.length === 1, 1_000);
    expect(s.seen[0]?.toString()).toBe(message);
    // The guard is disarmed once the message is complete.
    expect(await peer.closedWithin(600)).toBe(false);
    expect(s.stats.garbage).toBe(0);
    peer.close();
  });

  it("keeps a busy connection whose segments never end on a message boundary", async () => {
    // A pipelined stream (one TCP connection under load): every segment completes a message
    // and starts the next, so some message is always pending, yet each one finishes quickly.
    const s = await start({ messageMs: 300 });
    const peer = await TcpPeer.open(s.port);
    const stream = message.repeat(60);
    const step = message.length;
    let from = 0;
    for (let i = 1; i < 60; i++) {
      const to = i * step + 7; // a few bytes into the next message
      await peer.write(stream.slice(from, to));
      from = to;
      await sleep(15);
    }
    await peer.write(stream.slice(from));
    await until("every message", () => s.seen.length === 60, 2_000);
    expect(peer.closed).toBe(false);
    expect(s.stats.garbage).toBe(0);
    peer.close();
  });

  it("closes a connection silent for longer than idleMs", async () => {
    const s = await start({ idleMs: 200 });
    const peer = await TcpPeer.open(s.port);
    await peer.write(message);
    await until("the message", () => s.seen.length === 1, 1_000);
    expect(await peer.closedWithin(1_500)).toBe(true);
    expect(s.stats.garbage).toBe(0);
  });

  it("closes a connection that brings no complete message within firstMessageMs (CONTRACT §14)", async () => {
    const s = await start({ firstMessageMs: 200 });
    const peer = await TcpPeer.open(s.port);
    await peer.write("OPTIONS sip:x.test SIP/2.0\r\n"); // never finished
    expect(await peer.closedWithin(1_500)).toBe(true);
    expect(s.stats.garbage).toBe(1);
  });

  it("keeps a connection a phone registered over past the idle time of one without a binding", async () => {
    const s = await start({ idleMs: 200, boundIdleMs: 5_000, binds: true });
    const peer = await TcpPeer.open(s.port);
    await peer.write(message);
    await until("the message", () => s.seen.length === 1, 1_000);
    expect(await peer.closedWithin(800)).toBe(false);
    peer.close();
  });
});

describe("a SIP server with a small maximum message size", () => {
  let server: SipServer;
  let udp: UdpPeer;
  beforeAll(async () => {
    const nonces = new NonceService({ key: randomBytes(32) });
    const registrar: Registrar = {
      register: async (input) => ({ status: 401, realm: input.toHost, stale: false }),
    };
    const quiet = { debug() {}, info() {}, warn() {} };
    server = await startSipServer({
      host: "127.0.0.1",
      port: 0,
      registrar: ({ transactions, stats }) =>
        registerUas({
          registrar,
          challenge: digestChallenger({ nonces, offerSha256: false }),
          transactions,
          clock: () => Date.now() * 1000,
          onBadRequest: () => stats.badRequests++,
          onError: () => {},
        }),
      logger: quiet,
      maxMessageSize: 2_048,
    });
    udp = await UdpPeer.open();
  });
  afterAll(async () => {
    await udp?.close();
    await server?.close();
  });
  beforeEach(() => {
    udp.inbox.length = 0;
  });

  it("drops a datagram over the limit without answering, and still answers one under it", async () => {
    const big = buildRequest({ transport: "UDP", port: udp.port }, "x.test", {
      extra: [`X-Padding: ${"p".repeat(3_000)}`],
    });
    await udp.send(big.text, server.port);
    await until("the datagram to be dropped", () => server.stats.garbage === 1, 2_000);
    const small = buildRequest({ transport: "UDP", port: udp.port }, "x.test");
    await udp.send(small.text, server.port);
    expect((await udp.response(small.callId, ALIVE_MS))?.status).toBe(200);
    expect(await udp.response(big.callId, 0)).toBeUndefined();
  });

  it("closes a TCP connection whose message declares a body past the limit", async () => {
    const peer = await TcpPeer.open(server.port);
    const req = buildRequest({ transport: "TCP", port: peer.localPort }, "x.test", {
      body: "",
      contentLength: 4_000,
    });
    await peer.write(req.text);
    expect(await peer.closedWithin(2_000)).toBe(true);
    expect(peer.responses).toEqual([]);
  });
});
