import { describe, expect, it } from "vitest";
import { quote, unquote } from "../../../src/sip/message/grammar.js";
import {
  formatNameAddr,
  parseContact,
  parseNameAddr,
  parseParams,
} from "../../../src/sip/message/name-addr.js";

describe("parseNameAddr", () => {
  it("in a name-addr, parameters inside <> belong to the URI and those after to the header", () => {
    const na = parseNameAddr('"Display \\"quoted\\"" <sip:a@b;x=y>;tag=1');
    expect(na?.displayName).toBe('Display "quoted"');
    expect(na?.uri).toBe("sip:a@b;x=y");
    expect([...(na?.sipUri?.params ?? [])]).toEqual([["x", "y"]]);
    expect([...(na?.params ?? [])]).toEqual([["tag", "1"]]);
  });

  it("in an addr-spec, every parameter after the URI belongs to the header (RFC 3261 §20.10)", () => {
    const na = parseNameAddr("sip:a@b;tag=1;transport=tcp");
    expect(na?.displayName).toBeUndefined();
    expect(na?.uri).toBe("sip:a@b");
    expect(na?.sipUri?.params.size).toBe(0);
    expect([...(na?.params ?? [])]).toEqual([
      ["tag", "1"],
      ["transport", "tcp"],
    ]);
  });

  it("reads token display names, with or without LWS before <", () => {
    expect(parseNameAddr("Alice Smith <sip:alice@example.com>")?.displayName).toBe("Alice Smith");
    expect(parseNameAddr("caller<sip:caller@example.com>")?.displayName).toBe("caller");
    expect(parseNameAddr("<sip:caller@example.com>")?.displayName).toBeUndefined();
    expect(parseNameAddr('"" <sip:caller@example.com>')?.displayName).toBe("");
    // UTF-8 belongs in a quoted-string, but UAs send it bare: tolerated
    expect(parseNameAddr("José Müller <sip:jose@example.com>")?.displayName).toBe("José Müller");
  });

  it("keeps quoted parameter values quoted, and unquote() reads them", () => {
    const na = parseNameAddr(
      '<sip:100@192.0.2.4:5060;ob>;expires=600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1;+sip.ice',
    );
    expect(na?.params.get("expires")).toBe("600");
    expect(na?.params.get("+sip.instance")).toBe('"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"');
    expect(unquote(na?.params.get("+sip.instance") ?? "")).toBe(
      "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>",
    );
    expect(na?.params.get("+sip.ice")).toBeNull();
    expect(na?.sipUri?.params.get("ob")).toBeNull();
  });

  it("allows LWS around ';' and '=' and an IPv6 host as a parameter value", () => {
    const na = parseNameAddr("<sip:a@b> ;  received = [2001:db8::9] ; q=0.7");
    expect(na?.params.get("received")).toBe("[2001:db8::9]");
    expect(na?.params.get("q")).toBe("0.7");
  });

  it("refuses malformed values", () => {
    for (const bad of [
      '"Mr. J. User <sip:j.user@example.com>', // unterminated quote (RFC 4475 quotbal)
      '"Watson, Thomas" < sip:t.watson@example.org >', // LWS inside <> (badaspec)
      "Bell, Alexander <sip:a.g.bell@example.com>;tag=43", // comma in an unquoted name (baddn)
      "sip:user@example.com?Route=%3Csip:sip.example.com%3E", // '?' in an addr-spec (regbadct)
      "<sip:a@b>;;", // empty parameter
      "<sip:a@b>;tag=", // empty value
      '<sip:a@b>;tag="x', // unterminated quoted value
      "<sip:a@b> junk",
      "<sip:a@b",
      "<>",
      "<sip:>",
      "",
    ])
      expect(parseNameAddr(bad), bad).toBeUndefined();
  });

  it("parses other absolute URIs without a SIP form", () => {
    const na = parseNameAddr("<urn:service:sos>;x=1");
    expect(na?.uri).toBe("urn:service:sos");
    expect(na?.sipUri).toBeUndefined();
  });
});

describe("parseContact", () => {
  it("reads the wildcard and ordinary contacts", () => {
    expect(parseContact(" * ")).toBe("*");
    const c = parseContact("<sip:a@b>;expires=0");
    expect(c !== "*" && c?.params.get("expires")).toBe("0");
  });
});

describe("parseParams", () => {
  it("reads generic-params from an offset, first occurrence winning", () => {
    expect([...(parseParams(';A=1;b;a=2;c="x;y"') ?? [])]).toEqual([
      ["a", "1"],
      ["b", null],
      ["c", '"x;y"'],
    ]);
    expect(parseParams("")?.size).toBe(0);
    expect(parseParams("x")).toBeUndefined();
  });
});

describe("formatNameAddr", () => {
  it("writes display name, URI in <> and parameters, and parses back to the same", () => {
    const text = formatNameAddr({
      displayName: 'J "Rosie" \\ Rosenberg',
      uri: "sip:jdrosen@example.com;transport=tcp",
      params: new Map<string, string | null>([
        ["tag", "98asjd8"],
        ["lr", null],
        ["+sip.instance", quote("<urn:uuid:1>")],
      ]),
    });
    expect(text).toBe(
      '"J \\"Rosie\\" \\\\ Rosenberg" <sip:jdrosen@example.com;transport=tcp>;tag=98asjd8;lr;+sip.instance="<urn:uuid:1>"',
    );
    const back = parseNameAddr(text);
    expect(back?.displayName).toBe('J "Rosie" \\ Rosenberg');
    expect(back?.uri).toBe("sip:jdrosen@example.com;transport=tcp");
    expect(back?.params.get("+sip.instance")).toBe('"<urn:uuid:1>"');
  });
});
