import { describe, expect, it } from "vitest";
import { SipHeaders } from "../../../src/sip/message/headers.js";

describe("SipHeaders", () => {
  it("looks names up without regard to case or compact form, and stores the canonical long form", () => {
    const h = new SipHeaders([
      ["v", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"],
      ["CALL-ID", "abc@host"],
      ["l", "0"],
      ["www-authenticate", 'Digest realm="x"'],
      ["cseq", "1 REGISTER"],
      ["X-Custom-Thing", "keep me"],
    ]);
    expect([...h.entries()].map((e) => e.name)).toEqual([
      "Via",
      "Call-ID",
      "Content-Length",
      "WWW-Authenticate",
      "CSeq",
      "X-Custom-Thing",
    ]);
    expect(h.get("via")).toBe("SIP/2.0/UDP a.example.com;branch=z9hG4bK1");
    expect(h.get("V")).toBe(h.get("Via"));
    expect(h.get("i")).toBe("abc@host");
    expect(h.get("Content-Length")).toBe("0");
    expect(h.get("x-custom-thing")).toBe("keep me");
    expect(h.get("Contact")).toBeUndefined();
    expect(h.has("L")).toBe(true);
  });

  it("every compact form of RFC 3261 §7.3.3 and later RFCs maps to its long form", () => {
    const compact: Record<string, string> = {
      a: "Accept-Contact",
      b: "Referred-By",
      c: "Content-Type",
      e: "Content-Encoding",
      f: "From",
      i: "Call-ID",
      k: "Supported",
      l: "Content-Length",
      m: "Contact",
      o: "Event",
      r: "Refer-To",
      s: "Subject",
      t: "To",
      u: "Allow-Events",
      v: "Via",
      x: "Session-Expires",
      y: "Identity",
    };
    for (const [short, long] of Object.entries(compact)) {
      const h = new SipHeaders([[short.toUpperCase(), "value"]]);
      expect([...h.entries()][0]?.name).toBe(long);
      expect(h.get(long.toLowerCase())).toBe("value");
      expect(h.get(short)).toBe("value");
    }
  });

  it("getAll splits list fields on commas outside quotes and <>, across repeated lines", () => {
    const h = new SipHeaders([
      ["Contact", '"Doe, John" <sip:j@a.example.com;x=1,2>;q=0.5, <sip:k@b.example.com>'],
      ["m", 'sip:l@c.example.com;+sip.instance="<urn:uuid:1,2>"'],
      ["Allow", "INVITE, ACK,CANCEL , OPTIONS"],
      ["Supported", ""],
    ]);
    expect(h.getAll("Contact")).toEqual([
      '"Doe, John" <sip:j@a.example.com;x=1,2>;q=0.5',
      "<sip:k@b.example.com>",
      'sip:l@c.example.com;+sip.instance="<urn:uuid:1,2>"',
    ]);
    expect(h.getAll("allow")).toEqual(["INVITE", "ACK", "CANCEL", "OPTIONS"]);
    expect(h.getAll("Supported")).toEqual([]);
  });

  it("getAll does not split fields whose single value holds commas", () => {
    const challenge = 'Digest realm="a.example.com", nonce="n", qop="auth", algorithm=MD5';
    const h = new SipHeaders([
      ["WWW-Authenticate", challenge],
      ["WWW-Authenticate", 'Digest realm="b", algorithm=SHA-256'],
      ["Authorization", 'Digest username="100", uri="sip:a,b"'],
      ["Date", "Sat, 13 Nov 2010 23:29:00 GMT"],
    ]);
    expect(h.getAll("www-authenticate")).toEqual([challenge, 'Digest realm="b", algorithm=SHA-256']);
    expect(h.getAll("Authorization")).toHaveLength(1);
    expect(h.getAll("Date")).toEqual(["Sat, 13 Nov 2010 23:29:00 GMT"]);
  });

  it("set replaces every line of a field in place of the first; append and prepend add one", () => {
    const h = new SipHeaders([
      ["Via", "SIP/2.0/UDP a"],
      ["To", "<sip:a@b>"],
      ["Via", "SIP/2.0/UDP b"],
      ["Expires", "60"],
    ]);
    h.set("via", "SIP/2.0/UDP c");
    expect([...h.entries()]).toEqual([
      { name: "Via", value: "SIP/2.0/UDP c" },
      { name: "To", value: "<sip:a@b>" },
      { name: "Expires", value: "60" },
    ]);
    h.set("Date", "x");
    expect([...h.entries()].at(-1)).toEqual({ name: "Date", value: "x" });
    h.append("Via", "SIP/2.0/UDP d").prepend("v", "SIP/2.0/UDP top");
    expect(h.getAll("Via")).toEqual(["SIP/2.0/UDP top", "SIP/2.0/UDP c", "SIP/2.0/UDP d"]);
    expect(h.count("Via")).toBe(3);
    expect(h.remove("VIA")).toBe(3);
    expect(h.has("Via")).toBe(false);
    expect(h.remove("Via")).toBe(0);
    expect(h.size).toBe(3);
  });

  it("values are trimmed of SP/HTAB only, and CR/LF or a bad name are refused (no header injection)", () => {
    const h = new SipHeaders();
    h.append("Subject", " \t\ufeffhello \t");
    expect(h.get("Subject")).toBe("\ufeffhello");
    expect(() => h.append("Subject", "a\r\nVia: evil")).toThrow(TypeError);
    expect(() => h.set("Subject", "a\nb")).toThrow(TypeError);
    expect(() => h.append("Bad Name", "x")).toThrow(TypeError);
    expect(() => h.append("Bad:Name", "x")).toThrow(TypeError);
  });

  it("a memoised value is computed once and forgotten when the fields change", () => {
    const h = new SipHeaders([["To", "<sip:a@b>"]]);
    let calls = 0;
    const compute = (x: SipHeaders) => {
      calls++;
      return x.get("To");
    };
    expect(h.cached("to", compute)).toBe("<sip:a@b>");
    expect(h.cached("to", compute)).toBe("<sip:a@b>");
    expect(calls).toBe(1);
    h.set("To", "<sip:c@d>");
    expect(h.cached("to", compute)).toBe("<sip:c@d>");
    expect(calls).toBe(2);
  });

  it("clone is independent of the original", () => {
    const a = new SipHeaders([["To", "<sip:a@b>"]]);
    const b = a.clone();
    b.set("To", "<sip:c@d>");
    expect(a.get("To")).toBe("<sip:a@b>");
  });
});
