import { describe, expect, it } from "vitest";
import { SipHeaders } from "../../../src/sip/message/headers.js";
import { parseMessage } from "../../../src/sip/message/parser.js";
import { serialize } from "../../../src/sip/message/serializer.js";
import type { SipMessage } from "../../../src/sip/message/types.js";
import * as T from "./rfc4475-messages.js";

const reparse = (m: SipMessage): SipMessage => {
  const r = parseMessage(serialize(m));
  if (!r.ok) throw new Error(r.reason);
  return r.message;
};

describe("serialize", () => {
  it("writes the start line, the headers in order with CRLF, and sets Content-Length from the body bytes", () => {
    const body = Buffer.from("v=0 ☃\r\n");
    const bytes = serialize({
      kind: "response",
      status: 200,
      reason: "OK",
      version: "SIP/2.0",
      headers: new SipHeaders([
        ["Via", "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK74bf9;received=198.51.100.7;rport=40312"],
        ["From", "<sip:100@c1.sip.example.com>;tag=9fx"],
        ["To", "<sip:100@c1.sip.example.com>;tag=abc"],
        ["Call-ID", "843817637684230@998sdasdh09"],
        ["CSeq", "1826 REGISTER"],
        ["l", "999"],
        ["Contact", "<sip:100@192.0.2.4:5060>;expires=600"],
        ["Content-Length", "1"],
      ]),
      body,
    });
    expect(bytes.toString("utf8")).toBe(
      [
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK74bf9;received=198.51.100.7;rport=40312",
        "From: <sip:100@c1.sip.example.com>;tag=9fx",
        "To: <sip:100@c1.sip.example.com>;tag=abc",
        "Call-ID: 843817637684230@998sdasdh09",
        "CSeq: 1826 REGISTER",
        `Content-Length: ${body.length}`,
        "Contact: <sip:100@192.0.2.4:5060>;expires=600",
        "",
        "v=0 ☃\r\n",
      ].join("\r\n"),
    );
    expect(body.length).toBe(9);
  });

  it("adds Content-Length: 0 when there was none", () => {
    const text = serialize({
      kind: "request",
      method: "OPTIONS",
      uri: "sip:c1.sip.example.com",
      requestUri: undefined,
      version: "SIP/2.0",
      headers: new SipHeaders([["Call-ID", "x"]]),
      body: Buffer.alloc(0),
    }).toString();
    expect(text).toBe("OPTIONS sip:c1.sip.example.com SIP/2.0\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n");
  });

  it("round-trips the RFC 4475 valid messages: same start line, fields and body", () => {
    for (const buf of [
      T.wsinv,
      T.intmeth,
      T.esc01,
      T.escnull,
      T.esc02,
      T.lwsdisp,
      T.longreq,
      T.dblreq,
      T.semiuri,
      T.transports,
      T.mpart01,
      T.unreason,
      T.noreason,
    ]) {
      const r = parseMessage(buf);
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      const again = reparse(r.message);
      expect([...again.headers.entries()]).toEqual([...r.message.headers.entries()]);
      expect(again.body).toEqual(r.message.body);
      if (again.kind === "request" && r.message.kind === "request") expect(again.uri).toBe(r.message.uri);
      if (again.kind === "response" && r.message.kind === "response")
        expect(again.reason).toBe(r.message.reason);
    }
  });

  it("refuses CR or LF in the start line (no response splitting)", () => {
    expect(() =>
      serialize({
        kind: "response",
        status: 400,
        reason: "Bad\r\nVia: x",
        version: "SIP/2.0",
        headers: new SipHeaders(),
        body: Buffer.alloc(0),
      }),
    ).toThrow(TypeError);
  });
});
