import { describe, expect, it } from "vitest";
import { type FrameEvent, Framer } from "../../../src/sip/message/framer.js";
import { parseMessage } from "../../../src/sip/message/parser.js";

const message = (body: string, callId = "a84b4c76e66710"): Buffer => {
  const b = Buffer.from(body, "utf8");
  return Buffer.concat([
    Buffer.from(
      [
        "REGISTER sip:c1.sip.example.com SIP/2.0",
        "Via: SIP/2.0/TCP 192.0.2.4:5060;branch=z9hG4bK74bf9",
        "Max-Forwards: 70",
        "From: <sip:100@c1.sip.example.com>;tag=9fxced76sl",
        "To: <sip:100@c1.sip.example.com>",
        `Call-ID: ${callId}`,
        "CSeq: 1826 REGISTER",
        "Content-Type: text/plain; charset=utf-8",
        `Content-Length: ${b.length}`,
        "",
        "",
      ].join("\r\n"),
    ),
    b,
  ]);
};

// a body whose multi-byte characters give many split points inside a character
const A = message("ünïcödé ☃ 日本語 \u{1F600}!", "one");
const B = message("", "two");
const C = message("second body ✓", "three");

const messages = (events: FrameEvent[]): Buffer[] =>
  events.flatMap((e) => (e.type === "message" ? [Buffer.from(e.data)] : []));

/** Same buffers in the same order (Buffer.equals: far cheaper than a deep equality per split). */
const same = (got: Buffer[], want: Buffer[]): boolean =>
  got.length === want.length && got.every((b, i) => b.equals(want[i] as Buffer));

function pushAll(framer: Framer, chunks: Buffer[]): FrameEvent[] {
  return chunks.flatMap((c) => framer.push(c));
}

describe("Framer", () => {
  it("cuts one message: header block plus exactly Content-Length bytes", () => {
    const events = new Framer().push(A);
    expect(events).toEqual([{ type: "message", data: A }]);
    const r = parseMessage(A);
    expect(r.ok && r.message.body.toString()).toBe("ünïcödé ☃ 日本語 \u{1F600}!");
  });

  it("cuts coalesced messages from one segment", () => {
    const f = new Framer();
    expect(messages(f.push(Buffer.concat([A, B, C])))).toEqual([A, B, C]);
    expect(f.pending()).toBe(0);
  });

  it("reassembles a stream split at every byte position, including inside UTF-8 characters and CRLFCRLF", () => {
    const stream = Buffer.concat([A, B, C]);
    for (let i = 1; i < stream.length; i++) {
      const f = new Framer();
      const out = messages(pushAll(f, [stream.subarray(0, i), stream.subarray(i)]));
      if (!same(out, [A, B, C])) expect(out, `split at ${i}`).toEqual([A, B, C]);
    }
  });

  it("reassembles a stream split into three pieces at many positions", () => {
    const stream = Buffer.concat([A, C]);
    for (let i = 1; i < stream.length; i += 7) {
      for (let j = i + 1; j < stream.length; j += 13) {
        const out = messages(
          pushAll(new Framer(), [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]),
        );
        if (!same(out, [A, C])) expect(out, `split at ${i} and ${j}`).toEqual([A, C]);
      }
    }
  });

  it("reassembles a message pushed one byte at a time", () => {
    const f = new Framer();
    const events: FrameEvent[] = [];
    for (let i = 0; i < A.length; i++) {
      events.push(...f.push(A.subarray(i, i + 1)));
      if (i < A.length - 1) expect(f.pending()).toBe(i + 1);
    }
    expect(events).toEqual([{ type: "message", data: A }]);
    expect(f.pending()).toBe(0);
  });

  it("is linear, not quadratic, on a slow drip (200 kB pushed one byte at a time)", () => {
    const big = Buffer.concat([
      Buffer.from(`OPTIONS sip:a SIP/2.0\r\nX-Filler: ${"x".repeat(200_000)}\r\nContent-Length: 3\r\n\r\n`),
      Buffer.from("end"),
    ]);
    const f = new Framer({ maxSize: 256 * 1024 });
    const t0 = performance.now();
    const events: FrameEvent[] = [];
    for (let i = 0; i < big.length; i++) {
      const ev = f.push(big.subarray(i, i + 1));
      if (ev.length > 0) events.push(...ev);
    }
    const ms = performance.now() - t0;
    expect(events).toEqual([{ type: "message", data: big }]);
    // linear work is ~100 ms here; re-scanning or re-copying the buffer per byte would be ~2e10 steps
    expect(ms).toBeLessThan(3000);
  });

  it("messages handed out stay intact after later pushes reuse the buffer", () => {
    const f = new Framer();
    const stream = Buffer.concat([A, C, B]);
    const cut = A.length - 5;
    const first = f.push(stream.subarray(0, cut));
    const second = f.push(stream.subarray(cut, A.length + 10));
    const third = f.push(stream.subarray(A.length + 10));
    expect(first).toEqual([]);
    const got = messages([...second, ...third]);
    expect(got).toEqual([A, C, B]);
    const firstData = second[0]?.type === "message" ? second[0].data : undefined;
    expect(firstData).toEqual(A);
  });

  it("reports a CRLFCRLF ping as a keep-alive (RFC 5626 §4.4.1), also when split", () => {
    expect(new Framer().push(Buffer.from("\r\n\r\n"))).toEqual([{ type: "keepalive" }]);
    expect(new Framer().push(Buffer.from("\r\n\r\n\r\n\r\n"))).toEqual([
      { type: "keepalive" },
      { type: "keepalive" },
    ]);
    for (let i = 1; i < 4; i++) {
      const f = new Framer();
      expect([
        ...f.push(Buffer.from("\r\n\r\n".slice(0, i))),
        ...f.push(Buffer.from("\r\n\r\n".slice(i))),
      ]).toEqual([{ type: "keepalive" }]);
    }
    const f = new Framer();
    expect(f.push(Buffer.concat([A, Buffer.from("\r\n\r\n"), B]))).toEqual([
      { type: "message", data: A },
      { type: "keepalive" },
      { type: "message", data: B },
    ]);
  });

  it("skips a lone CRLF between messages (RFC 3261 §7.5) and does not count it as pending", () => {
    const f = new Framer();
    expect(f.push(Buffer.concat([A, Buffer.from("\r\n")]))).toEqual([{ type: "message", data: A }]);
    expect(f.pending()).toBe(0);
    expect(f.push(B)).toEqual([{ type: "message", data: B }]);
    expect(new Framer().push(Buffer.concat([Buffer.from("\r\n"), C]))).toEqual([
      { type: "message", data: C },
    ]);
  });

  it("reports an error for a missing, malformed or conflicting Content-Length", () => {
    const noLength = Buffer.from("OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n");
    expect(new Framer().push(noLength)).toEqual([{ type: "error", reason: "Missing Content-Length header" }]);
    const bad = Buffer.from("OPTIONS sip:a SIP/2.0\r\nl: -5\r\n\r\n");
    expect(new Framer().push(bad)).toEqual([{ type: "error", reason: "Malformed Content-Length header" }]);
    const two = Buffer.from("OPTIONS sip:a SIP/2.0\r\nContent-Length: 1\r\ncontent-length : 2\r\n\r\n");
    expect(new Framer().push(two)).toEqual([{ type: "error", reason: "Conflicting Content-Length headers" }]);
  });

  it("reads a compact or folded Content-Length", () => {
    const folded = Buffer.from("OPTIONS sip:a SIP/2.0\r\nContent-Length:\r\n  4\r\n\r\nbody");
    expect(messages(new Framer().push(folded))).toEqual([folded]);
    const compact = Buffer.from("OPTIONS sip:a SIP/2.0\r\nL : 2\r\n\r\nhi");
    expect(messages(new Framer().push(compact))).toEqual([compact]);
  });

  it("reports an error for a header block past the maximum size without its empty line", () => {
    const f = new Framer({ maxSize: 1000 });
    expect(f.push(Buffer.from(`OPTIONS sip:a SIP/2.0\r\nX: ${"y".repeat(500)}`))).toEqual([]);
    expect(f.push(Buffer.from("y".repeat(600)))).toEqual([
      { type: "error", reason: "Header block too large" },
    ]);
    expect(f.push(B)).toEqual([]); // closed: the caller drops the connection
  });

  it("reports an error for a Content-Length past the maximum size, before the body arrives", () => {
    const f = new Framer();
    expect(f.push(Buffer.from("OPTIONS sip:a SIP/2.0\r\nContent-Length: 70000\r\n\r\n"))).toEqual([
      { type: "error", reason: "Content-Length exceeds the maximum message size" },
    ]);
    expect(f.pending()).toBe(0);
  });

  it("uses 65535 bytes as the default maximum", () => {
    const ok = Buffer.from(`OPTIONS sip:a SIP/2.0\r\nContent-Length: 65000\r\n\r\n${"z".repeat(65000)}`);
    expect(messages(new Framer().push(ok))).toEqual([ok]);
    const tooBig = Buffer.from("OPTIONS sip:a SIP/2.0\r\nContent-Length: 65535\r\n\r\n");
    expect(new Framer().push(tooBig)[0]?.type).toBe("error");
  });
});
