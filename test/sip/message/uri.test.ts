import { describe, expect, it } from "vitest";
import { formatUri, isAbsoluteUri, parseUri } from "../../../src/sip/message/uri.js";

describe("parseUri", () => {
  it("reads scheme, user, password, host, port, parameters and headers", () => {
    const u = parseUri(
      "SIP:Alice:s3cret@Atlanta.Example.COM:5061;Transport=TCP;lr;maddr=239.255.255.1?Subject=hi&Priority=urgent",
    );
    expect(u).toEqual({
      scheme: "sip",
      user: "Alice",
      password: "s3cret",
      host: "atlanta.example.com",
      port: 5061,
      params: new Map([
        ["transport", "TCP"],
        ["lr", null],
        ["maddr", "239.255.255.1"],
      ]),
      headers: [
        ["Subject", "hi"],
        ["Priority", "urgent"],
      ],
    });
  });

  it("reads IPv6 references, with and without a port", () => {
    expect(parseUri("sip:100@[2001:db8::1]:5060;transport=udp")).toMatchObject({
      user: "100",
      host: "[2001:db8::1]",
      port: 5060,
    });
    expect(parseUri("sips:[2001:DB8::10:1]")).toMatchObject({
      scheme: "sips",
      host: "[2001:db8::10:1]",
      port: undefined,
    });
    expect(parseUri("sip:[::ffff:192.0.2.1]:5070")).toMatchObject({ host: "[::ffff:192.0.2.1]", port: 5070 });
    expect(parseUri("sip:alice@[2001:db8::1;x")).toBeUndefined();
    expect(parseUri("sip:[zz::1]")).toBeUndefined();
  });

  it("unescapes the user part and parameter names and values (RFC 3261 §19.1.2)", () => {
    const u = parseUri("sip:%61lice%20b@example.com;n%61me=v%61lue%25%34%31");
    expect(u?.user).toBe("alice b");
    expect(u?.params.get("name")).toBe("value%41");
    expect(parseUri("sip:caf%C3%A9@example.com")?.user).toBe("café");
  });

  it("finds the userinfo at the first '@' even when the user holds ';' '?' ','", () => {
    const u = parseUri("sip:user;par=u%40example.net@example.com");
    expect(u?.user).toBe("user;par=u@example.net");
    expect(u?.host).toBe("example.com");
    expect(u?.params.size).toBe(0);
  });

  it("reads tel: URIs (RFC 3966) with the number as user", () => {
    expect(parseUri("tel:+1-201-555-0123;phone-context=example.com")).toMatchObject({
      scheme: "tel",
      user: "+1-201-555-0123",
      host: "",
      params: new Map([["phone-context", "example.com"]]),
    });
    expect(parseUri("tel:12 34")).toBeUndefined();
  });

  it("refuses malformed URIs and other schemes", () => {
    for (const bad of [
      "sip:",
      "sip:@example.com",
      "sip:example.com:70000",
      "sip:example.com:",
      "sip:example.com:12a",
      "sip:al%G1ce@example.com",
      "sip:al%4@example.com",
      "sip:alice@exa mple.com",
      "sip:alice@example.com;",
      "sip:alice@example.com;=x",
      "sip:alice@example.com;x=",
      "sip:alice@example.com?",
      "sip:alice@example.com?novalue",
      "sip:alice@example.com>",
      "sip:al<ice@example.com",
      "http://example.com",
      "<sip:alice@example.com>",
      "alice@example.com",
      "",
    ])
      expect(parseUri(bad), bad).toBeUndefined();
  });

  it("a repeated parameter keeps its first value", () => {
    expect(parseUri("sip:a@b;transport=tcp;TRANSPORT=udp")?.params.get("transport")).toBe("tcp");
  });
});

describe("formatUri", () => {
  it("round-trips a parsed URI", () => {
    for (const text of [
      "sip:alice@atlanta.example.com",
      "sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr",
      "sip:example.com;maddr=[2001:db8::2]?subject=x&to=y",
      "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
      "tel:+1-201-555-0123;phone-context=example.com",
    ]) {
      const u = parseUri(text);
      expect(u, text).toBeDefined();
      if (u) expect(formatUri(u)).toBe(text);
    }
  });

  it("escapes what the grammar does not allow raw", () => {
    expect(
      formatUri({
        scheme: "sip",
        user: "a b@c%",
        password: undefined,
        host: "example.com",
        port: undefined,
        params: new Map([["x y", "é"]]),
        headers: [["Subject", "a&b"]],
      }),
    ).toBe("sip:a%20b%40c%25@example.com;x%20y=%C3%A9?Subject=a%26b");
    expect(parseUri("sip:a%20b%40c%25@example.com")?.user).toBe("a b@c%");
  });
});

describe("isAbsoluteUri", () => {
  it("accepts any scheme's URI without whitespace or brackets", () => {
    expect(isAbsoluteUri("nobodyKnowsThisScheme:totallyopaquecontent")).toBe(true);
    expect(isAbsoluteUri("soap.beep://192.0.2.103:3002")).toBe(true);
    expect(isAbsoluteUri("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")).toBe(true);
    expect(isAbsoluteUri("<sip:a@b>")).toBe(false);
    expect(isAbsoluteUri("sip:a b")).toBe(false);
    expect(isAbsoluteUri("1sip:a")).toBe(false);
    expect(isAbsoluteUri("sip:")).toBe(false);
  });
});
