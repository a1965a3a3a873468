import { describe, expect, it } from "vitest";
import { parseMessage } from "../../../src/sip/message/parser.js";
import { removeTopVia } from "../../../src/sip/message/raw-edit.js";
import type { SipMessage } from "../../../src/sip/message/types.js";

const CRLF = "\r\n";
const response = (viaLines: string[], eol = CRLF, body = "") =>
  Buffer.from(
    [
      "SIP/2.0 200 OK",
      ...viaLines,
      "From: <sip:a@example.com>;tag=1",
      "To: <sip:b@example.com>;tag=2",
      "Call-ID: c1@example.com",
      "CSeq: 1 INVITE",
      `Content-Length: ${Buffer.byteLength(body)}`,
      "",
      body,
    ].join(eol),
  );

function parsed(buf: Buffer): SipMessage {
  const r = parseMessage(buf);
  if (!r.ok) throw new Error(r.reason);
  return r.message;
}

const OURS = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-sxAAA;rport=5060";
const THEIRS = "SIP/2.0/UDP 192.0.2.9:5062;branch=z9hG4bK-caller;received=192.0.2.9";

describe("removing the top Via in a message's own bytes", () => {
  it("drops the whole first Via line and leaves every other byte as it was", () => {
    const before = response([`Via: ${OURS}`, `Via: ${THEIRS}`], CRLF, "v=0\r\n");
    const after = removeTopVia(before);
    expect(after?.toString()).toBe(before.toString().replace(`Via: ${OURS}\r\n`, ""));
    expect(parsed(after as Buffer).headers.getAll("Via")).toEqual([THEIRS]);
    expect(parsed(after as Buffer).body.toString()).toBe("v=0\r\n");
  });

  it("drops only the first value of a Via list, in any case and compact form", () => {
    for (const name of ["Via", "VIA", "v", "V", "via "]) {
      const before = response([`${name}: ${OURS} ,  ${THEIRS}`, "Via: SIP/2.0/TCP third.example.com"]);
      const after = removeTopVia(before) as Buffer;
      expect(parsed(after).headers.getAll("Via")).toEqual([THEIRS, "SIP/2.0/TCP third.example.com"]);
      expect(after.toString()).toContain(`${name}: ${THEIRS}\r\n`);
    }
  });

  it("does not split on a comma inside a quoted parameter", () => {
    const quoted = 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-sxB;note="a, b \\" c, d"';
    const after = removeTopVia(response([`Via: ${quoted}, ${THEIRS}`])) as Buffer;
    expect(parsed(after).headers.getAll("Via")).toEqual([THEIRS]);
  });

  it("handles bare LF line ends, and is the structured result on a message with the Via later", () => {
    const before = response(["Max-Forwards: 70", `Via: ${OURS}`, `Via: ${THEIRS}`], "\n");
    const after = removeTopVia(before) as Buffer;
    const a = parsed(after);
    const b = parsed(before);
    expect(a.headers.getAll("Via")).toEqual(b.headers.getAll("Via").slice(1));
    expect([...a.headers].filter((h) => h.name !== "Via")).toEqual(
      [...b.headers].filter((h) => h.name !== "Via"),
    );
  });

  it("leaves a folded Via, a message without Via and a header merely starting with v to the structured way", () => {
    expect(removeTopVia(response([`Via: ${OURS},`, `  ${THEIRS}`]))).toBeUndefined();
    expect(removeTopVia(response([`Via: ${OURS}`, `\t;x=1`]))).toBeUndefined();
    expect(removeTopVia(response([]))).toBeUndefined();
    expect(removeTopVia(response(["Vias: x", "v-x: y"]))).toBeUndefined();
    expect(removeTopVia(Buffer.from("SIP/2.0 200 OK"))).toBeUndefined();
  });
});
