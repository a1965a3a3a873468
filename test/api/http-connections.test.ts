// CONTRACT §14 "Connections" on the HTTP side: at most SIPEXT_MAX_CONNECTIONS_PER_SOURCE (100)
// connections per source address, on HTTP and HTTPS, and a client must send its headers within
// 10 s and its whole request within 30 s. Client sockets are bound to loopback aliases
// (127.0.0.2 …, which Linux routes without configuration) to play several source addresses.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
  HTTP_HEADERS_TIMEOUT_MS,
  HTTP_KEEP_ALIVE_TIMEOUT_MS,
  HTTP_REQUEST_TIMEOUT_MS,
} from "../../src/config.js";
import { DATABASES, type Harness, startHarness, stopHarness } from "../helpers/harness.js";

const REQUEST = "GET /v1.0/customer HTTP/1.1\r\nHost: sipext\r\n\r\n";

interface Conn {
  socket: Socket;
  /** resolves with what was received once the socket closes, and how long it was open */
  closed: Promise<{ data: string; afterMs: number }>;
  /** resolves once a whole HTTP response head has arrived */
  answered: Promise<string>;
}

function open(port: number, from: string, tls = false): Conn {
  const t0 = Date.now();
  const tcp = connect({ host: "127.0.0.1", port, localAddress: from });
  const socket = tls ? tlsConnect({ socket: tcp, rejectUnauthorized: false }) : tcp;
  let data = "";
  let answer: (head: string) => void = () => undefined;
  const answered = new Promise<string>((r) => {
    answer = r;
  });
  socket.on("data", (d: Buffer) => {
    data += d.toString("latin1");
    if (data.includes("\r\n\r\n")) answer(data);
  });
  socket.on("error", () => undefined); // a refused socket may see ECONNRESET
  const closed = new Promise<{ data: string; afterMs: number }>((r) =>
    socket.on("close", () => r({ data, afterMs: Date.now() - t0 })),
  );
  return { socket, closed, answered };
}

/** A connection the server has certainly counted: it answered a request on it (kept alive). */
async function served(port: number, from: string, tls = false): Promise<Conn> {
  const c = open(port, from, tls);
  c.socket.write(REQUEST);
  expect(await c.answered).toMatch(/^HTTP\/1\.1 401 /);
  return c;
}

const closedAtOnce = async (c: Conn) => {
  const late = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error("the connection was not closed")), 2_000).unref(),
  );
  const { data, afterMs } = await Promise.race([c.closed, late]);
  expect(data).toBe("");
  expect(afterMs).toBeLessThan(1_000);
};

describe.each(DATABASES)("HTTP connections per source address on %s", (kind) => {
  let h: Harness;
  const conns: Conn[] = [];
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(async () => {
    for (const c of conns) c.socket.destroy();
    await stopHarness(h);
  });

  it("uses the contract's limits unless told otherwise", () => {
    expect(h.config.maxConnectionsPerSource).toBe(100);
    expect(DEFAULT_MAX_CONNECTIONS_PER_SOURCE).toBe(100);
    const server = h.server.app.server;
    expect(server.headersTimeout).toBe(HTTP_HEADERS_TIMEOUT_MS);
    expect(HTTP_HEADERS_TIMEOUT_MS).toBe(10_000);
    expect(server.requestTimeout).toBe(HTTP_REQUEST_TIMEOUT_MS);
    expect(HTTP_REQUEST_TIMEOUT_MS).toBe(30_000);
    expect(server.keepAliveTimeout).toBe(HTTP_KEEP_ALIVE_TIMEOUT_MS);
  });

  it("closes the 101st connection from one address at once, while another address still connects", async () => {
    for (let i = 0; i < 100; i++) conns.push(await served(h.server.httpPort, "127.0.0.3"));
    const refused = open(h.server.httpPort, "127.0.0.3");
    refused.socket.write(REQUEST);
    await closedAtOnce(refused);
    const other = await served(h.server.httpPort, "127.0.0.2");
    other.socket.destroy();
    // The 100 are still served, and one closing makes room for one more.
    const first = conns.shift();
    first?.socket.destroy();
    await first?.closed;
    await new Promise((r) => setTimeout(r, 50));
    conns.push(await served(h.server.httpPort, "127.0.0.3"));
  });
});

describe.each(DATABASES)("slow HTTP clients and proxies on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind, {
      env: {
        SIPEXT_TLS_SELF_SIGNED: "true",
        SIPEXT_SIP_TLS_PORT: "0",
        SIPEXT_HTTPS_PORT: "0",
        SIPEXT_MAX_CONNECTIONS_PER_SOURCE: "2",
        SIPEXT_TRUST_PROXY: "127.0.0.5",
      },
      // Deadlines shortened so the test does not wait 10 s.
      config: { httpHeadersTimeoutMs: 400, httpRequestTimeoutMs: 1_000 },
    });
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  it.each([
    ["half a request line", "GET /v1.0/cus"],
    ["nothing at all", ""],
    ["headers without their end", "GET /v1.0/customer HTTP/1.1\r\nHost: sipext\r\n"],
  ])("disconnects a client that sends %s once the header deadline passes", async (_what, bytes) => {
    const c = open(h.server.httpPort, "127.0.0.6");
    if (bytes) c.socket.write(bytes);
    const { data, afterMs } = await c.closed;
    expect(afterMs).toBeGreaterThanOrEqual(350);
    expect(afterMs).toBeLessThan(2_000);
    expect(data === "" || data.startsWith("HTTP/1.1 408")).toBe(true);
  });

  it("disconnects a client whose body does not arrive within the request deadline", async () => {
    const c = open(h.server.httpPort, "127.0.0.6");
    c.socket.write(
      "POST /auth/login HTTP/1.1\r\nHost: sipext\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    const { afterMs } = await c.closed;
    expect(afterMs).toBeGreaterThanOrEqual(900);
    expect(afterMs).toBeLessThan(3_000);
  });

  it("applies the same deadline and connection limit to HTTPS", async () => {
    const port = h.server.httpsPort;
    if (port === undefined) throw new Error("HTTPS is on");
    const slow = open(port, "127.0.0.7", true);
    const { afterMs } = await slow.closed;
    expect(afterMs).toBeLessThan(2_000);
    const a = await served(port, "127.0.0.8", true);
    const b = await served(port, "127.0.0.8", true);
    await closedAtOnce(open(port, "127.0.0.8", true));
    a.socket.destroy();
    b.socket.destroy();
  });

  it("does not count the connections of a trusted proxy: every client behind it arrives from it", async () => {
    const viaProxy = [];
    for (let i = 0; i < 5; i++) viaProxy.push(await served(h.server.httpPort, "127.0.0.5"));
    for (const c of viaProxy) c.socket.destroy();
  });
});
