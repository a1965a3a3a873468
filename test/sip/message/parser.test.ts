import { describe, expect, it } from "vitest";
import { getCSeq, getFrom, getVias } from "../../../src/sip/message/fields.js";
import { DEFAULT_MAX_MESSAGE_SIZE, parseMessage } from "../../../src/sip/message/parser.js";
import type { SipMessage } from "../../../src/sip/message/types.js";

const REGISTER_HEAD = [
  "REGISTER sip:c1.sip.example.com SIP/2.0",
  "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK74bf9;rport",
  "Max-Forwards: 70",
  "From: <sip:100@c1.sip.example.com>;tag=9fxced76sl",
  "To: <sip:100@c1.sip.example.com>",
  "Call-ID: 843817637684230@998sdasdh09",
  "CSeq: 1826 REGISTER",
  "Contact: <sip:100@192.0.2.4:5060>;expires=600",
];

const msg = (lines: string[], body = ""): Buffer =>
  Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`, "utf8");

function ok(buf: Buffer): SipMessage {
  const r = parseMessage(buf);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.message;
}

describe("parseMessage", () => {
  it("parses a REGISTER into method, URIs, headers and an empty body", () => {
    const m = ok(msg([...REGISTER_HEAD, "Content-Length: 0"]));
    expect(m.kind).toBe("request");
    if (m.kind !== "request") return;
    expect(m.method).toBe("REGISTER");
    expect(m.uri).toBe("sip:c1.sip.example.com");
    expect(m.requestUri?.host).toBe("c1.sip.example.com");
    expect(m.version).toBe("SIP/2.0");
    expect(m.headers.size).toBe(8);
    expect(getCSeq(m.headers)).toEqual({ seq: 1826, method: "REGISTER" });
    expect(m.body.length).toBe(0);
  });

  it("accepts compact forms and any case for header names (RFC 3261 §7.3.1, §7.3.3)", () => {
    const m = ok(
      msg(
        [
          "OPTIONS sip:c1.sip.example.com SIP/2.0",
          "v: SIP/2.0/TCP 192.0.2.4;branch=z9hG4bK1",
          "f: <sip:100@c1.sip.example.com>;tag=1",
          "T: <sip:100@c1.sip.example.com>",
          "i: abc",
          "cSeQ: 1 OPTIONS",
          "k: path, outbound",
          "m: <sip:100@192.0.2.4>",
          "c: text/plain",
          "s: hello",
          "L: 5",
        ],
        "hello",
      ),
    );
    const h = m.headers;
    expect([...h.entries()].map((e) => e.name)).toEqual([
      "Via",
      "From",
      "To",
      "Call-ID",
      "CSeq",
      "Supported",
      "Contact",
      "Content-Type",
      "Subject",
      "Content-Length",
    ]);
    expect(h.getAll("Supported")).toEqual(["path", "outbound"]);
    expect(h.get("CALL-ID")).toBe("abc");
    expect(m.body.toString()).toBe("hello");
  });

  it("unfolds continuation lines into a single SP (RFC 3261 §7.3.1)", () => {
    const m = ok(
      msg([
        "REGISTER sip:c1.sip.example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.4:5060",
        "\t;branch=z9hG4bK74bf9",
        "From:",
        "   <sip:100@c1.sip.example.com>",
        "  ;tag=9fx",
        "To: <sip:100@c1.sip.example.com>",
        "Call-ID: 84381",
        "CSeq: 1826",
        " \t REGISTER",
        "Subject: first line   ",
        "   second line",
        "Content-Length: 0",
      ]),
    );
    expect(m.headers.get("Via")).toBe("SIP/2.0/UDP 192.0.2.4:5060 ;branch=z9hG4bK74bf9");
    expect(getVias(m.headers)?.[0]?.params.get("branch")).toBe("z9hG4bK74bf9");
    expect(getFrom(m.headers)?.params.get("tag")).toBe("9fx");
    expect(m.headers.get("CSeq")).toBe("1826 REGISTER");
    expect(m.headers.get("Subject")).toBe("first line second line");
  });

  it("keeps repeated header lines in order", () => {
    const m = ok(
      msg([
        "INVITE sip:a@c1.sip.example.com SIP/2.0",
        "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1",
        "From: <sip:100@c1.sip.example.com>;tag=1",
        "Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2, SIP/2.0/UDP p3.example.com;branch=z9hG4bK3",
        "To: <sip:a@c1.sip.example.com>",
        "Record-Route: <sip:p1.example.com;lr>",
        "Call-ID: 1",
        "Record-Route: <sip:p2.example.com;lr>",
        "CSeq: 1 INVITE",
        "Content-Length: 0",
      ]),
    );
    expect(getVias(m.headers)?.map((v) => v.host)).toEqual([
      "p1.example.com",
      "p2.example.com",
      "p3.example.com",
    ]);
    expect(m.headers.getAll("Record-Route")).toEqual(["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]);
  });

  it("counts Content-Length in bytes, not characters, for a multi-byte UTF-8 body", () => {
    const body = "héllo ☃ 日本 \u{1F600}"; // 13 characters, 22 bytes
    const bytes = Buffer.byteLength(body);
    expect(bytes).toBeGreaterThan(body.length);
    const m = ok(
      msg([...REGISTER_HEAD, "Content-Type: text/plain; charset=utf-8", `Content-Length: ${bytes}`], body),
    );
    expect(m.body.length).toBe(bytes);
    expect(m.body.toString("utf8")).toBe(body);
    // a sender that counted characters announces fewer bytes than it sent: the tail is cut off
    const short = ok(msg([...REGISTER_HEAD, `Content-Length: ${body.length}`], body));
    expect(short.body.length).toBe(body.length);
    expect(short.body).toEqual(Buffer.from(body).subarray(0, body.length));
  });

  it("over UDP, truncates a body longer than Content-Length and refuses a shorter one (RFC 3261 §18.3)", () => {
    expect(ok(msg([...REGISTER_HEAD, "Content-Length: 3"], "abcdef")).body.toString()).toBe("abc");
    const r = parseMessage(msg([...REGISTER_HEAD, "Content-Length: 7"], "abcdef"));
    expect(r).toMatchObject({ ok: false, reason: "Content-Length larger than body", status: 400 });
  });

  it("without Content-Length, the body runs to the end of the datagram", () => {
    expect(ok(msg(REGISTER_HEAD, "xyz")).body.toString()).toBe("xyz");
  });

  it("accepts 'SIP/2.0' in any case and normalises it", () => {
    const m = ok(msg([REGISTER_HEAD[0]?.replace("SIP/2.0", "sip/2.0") ?? "", ...REGISTER_HEAD.slice(1)]));
    expect(m.version).toBe("SIP/2.0");
  });

  it("refuses messages over the maximum size, 65535 bytes by default", () => {
    expect(DEFAULT_MAX_MESSAGE_SIZE).toBe(65535);
    const big = msg([...REGISTER_HEAD, `Subject: ${"x".repeat(70_000)}`]);
    expect(parseMessage(big)).toEqual({ ok: false, reason: "Message too large" });
    expect(parseMessage(big, { maxSize: 100_000 }).ok).toBe(true);
    expect(parseMessage(msg(REGISTER_HEAD), { maxSize: 100 }).ok).toBe(false);
  });

  it("skips CRLFs before the start line (RFC 3261 §7.5) and accepts bare-LF line ends", () => {
    expect(ok(Buffer.concat([Buffer.from("\r\n\r\n"), msg(REGISTER_HEAD)])).kind).toBe("request");
    expect(ok(Buffer.from(`${REGISTER_HEAD.join("\n")}\n\n`)).kind).toBe("request");
  });

  it("answers what it can: a readable request with a bad field carries its method and headers", () => {
    const r = parseMessage(msg([...REGISTER_HEAD, "this line has no colon", "Content-Length: 0"]));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe("Malformed header line");
    expect(r.status).toBe(400);
    expect(r.request?.method).toBe("REGISTER");
    expect(r.request?.headers.get("Call-ID")).toBe("843817637684230@998sdasdh09");
  });

  it("drops garbage: no start line, no blank line, a bad status line, or a response with a bad field", () => {
    for (const [bytes, reason] of [
      [Buffer.alloc(0), "Empty message"],
      [Buffer.from("\r\n\r\n"), "Empty message"],
      [Buffer.from("REGISTER sip:a SIP/2.0\r\nVia: x"), "Missing empty line after the header fields"],
      [Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "Malformed Request-Line"],
      [Buffer.from("SIP/2.0 20 OK\r\n\r\n"), "Malformed Status-Line"],
      [Buffer.from("SIP/2.0 1e2 OK\r\n\r\n"), "Malformed Status-Line"],
      [Buffer.from("SIP/2.0 700 Nope\r\n\r\n"), "Malformed Status-Line"],
      [Buffer.from("SIP/3.0 200 OK\r\n\r\n"), "Unsupported SIP version"],
      [Buffer.from("SIP/2.0 200 O\rK\r\n\r\n"), "Malformed Status-Line"],
      [Buffer.from("\x00\xff\xfe binary \x01\x02\r\n\r\n", "latin1"), "Malformed Request-Line"],
    ] as const) {
      const r = parseMessage(bytes);
      expect(r, JSON.stringify(bytes.toString("latin1"))).toEqual({ ok: false, reason });
    }
  });

  it("parses responses: status, reason phrase with spaces, headers", () => {
    const m = ok(
      msg([
        "SIP/2.0 401 Unauthorized Here",
        "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK74bf9;received=198.51.100.7;rport=40312",
        "From: <sip:100@c1.sip.example.com>;tag=9fxced76sl",
        "To: <sip:100@c1.sip.example.com>;tag=abc",
        "Call-ID: 843817637684230@998sdasdh09",
        "CSeq: 1826 REGISTER",
        'WWW-Authenticate: Digest realm="c1.sip.example.com", nonce="x", qop="auth", algorithm=MD5',
        "Content-Length: 0",
      ]),
    );
    expect(m.kind === "response" && [m.status, m.reason]).toEqual([401, "Unauthorized Here"]);
    expect(getVias(m.headers)?.[0]?.params.get("rport")).toBe("40312");
  });

  it("refuses a CR inside a header value", () => {
    const r = parseMessage(Buffer.from(`${REGISTER_HEAD.join("\r\n")}\r\nSubject: a\rb\r\n\r\n`));
    expect(r).toMatchObject({ ok: false, reason: "Malformed header line" });
  });

  it("refuses a missing mandatory header with its name, and tolerates a missing Max-Forwards", () => {
    for (const name of ["Via", "From", "To", "Call-ID", "CSeq"]) {
      const lines = REGISTER_HEAD.filter((l) => !l.startsWith(`${name}:`));
      expect(parseMessage(msg(lines))).toEqual({ ok: false, reason: `Missing ${name} header` });
    }
    expect(parseMessage(msg(REGISTER_HEAD.filter((l) => !l.startsWith("Max-Forwards")))).ok).toBe(true);
  });

  it("refuses Max-Forwards above 255 and a CSeq of 2**31 or more (RFC 3261 §8.1.1.5, §20.22)", () => {
    const withLine = (line: string) =>
      msg([...REGISTER_HEAD.filter((l) => !l.startsWith(line.split(":")[0] ?? "")), line]);
    expect(parseMessage(withLine("Max-Forwards: 256"))).toMatchObject({
      reason: "Malformed Max-Forwards header",
    });
    expect(parseMessage(withLine("Max-Forwards: 00070")).ok).toBe(true);
    expect(parseMessage(withLine("CSeq: 2147483648 REGISTER"))).toMatchObject({
      reason: "Malformed CSeq header",
    });
    expect(parseMessage(withLine("CSeq: 2147483647 REGISTER")).ok).toBe(true);
  });

  it("takes any visible Call-ID (the stack only compares it) but refuses one with whitespace", () => {
    const withCallId = (v: string) =>
      msg(REGISTER_HEAD.map((l) => (l.startsWith("Call-ID") ? `Call-ID: ${v}` : l)));
    expect(parseMessage(withCallId("YWJj==@host")).ok).toBe(true);
    expect(parseMessage(withCallId("a b"))).toMatchObject({ reason: "Malformed Call-ID header" });
    expect(parseMessage(withCallId(""))).toMatchObject({ reason: "Malformed Call-ID header" });
  });

  it("never throws on random bytes", () => {
    let seed = 1;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 500; n++) {
      const b = Buffer.alloc(rnd() % 300);
      for (let i = 0; i < b.length; i++) b[i] = rnd() & 0xff;
      expect(() => parseMessage(b)).not.toThrow();
    }
  });
});
