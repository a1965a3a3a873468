import { describe, expect, it } from "vitest";
import { formatVia, parseVia } from "../../../src/sip/message/via.js";

describe("parseVia", () => {
  it("reads protocol, transport, sent-by and parameters", () => {
    const v = parseVia(
      "SIP/2.0/udp PC33.Atlanta.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5070",
    );
    expect(v?.protocol).toBe("SIP/2.0");
    expect(v?.transport).toBe("UDP");
    expect(v?.host).toBe("pc33.atlanta.com");
    expect(v?.port).toBe(5066);
    expect([...(v?.params ?? [])]).toEqual([
      ["branch", "z9hG4bK776asdhds"],
      ["received", "192.0.2.1"],
      ["rport", "5070"],
    ]);
  });

  it("reads rport without a value as present with null (RFC 3581 §3)", () => {
    const v = parseVia("SIP/2.0/TCP 10.0.0.1:5060;rport;branch=z9hG4bKx");
    expect(v?.params.has("rport")).toBe(true);
    expect(v?.params.get("rport")).toBeNull();
    expect(v?.params.has("received")).toBe(false);
  });

  it("allows LWS around '/', ':' and ';' and IPv6 sent-by", () => {
    const v = parseVia("SIP / 2.0 / TLS   [2001:DB8::1] : 5061 ; branch = z9hG4bK1 ; maddr=[2001:db8::2]");
    expect(v).toMatchObject({ transport: "TLS", host: "[2001:db8::1]", port: 5061 });
    expect(v?.params.get("maddr")).toBe("[2001:db8::2]");
  });

  it("refuses malformed values", () => {
    for (const bad of [
      "SIP/2.0/UDP",
      "SIP/2.0/UDPhost.example.com",
      "SIP/2.0 host.example.com",
      "SIP//UDP host.example.com",
      "SIP/2.0/UDP host.example.com;;",
      "SIP/2.0/UDP 192.0.2.15;;",
      ";",
      "SIP/2.0/UDP host.example.com;rport=abc",
      "SIP/2.0/UDP host.example.com:99999",
      "SIP/2.0/UDP host.example.com extra",
      "SIP/2.0/UDP [::1",
      "",
    ])
      expect(parseVia(bad), bad).toBeUndefined();
  });
});

describe("formatVia", () => {
  it("writes a Via that parses back to the same", () => {
    const text = "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK74bf9;received=198.51.100.7;rport=40312";
    const v = parseVia(text);
    expect(v && formatVia(v)).toBe(text);
    const noPort = parseVia("SIP/2.0/WS df7jal23ls0d.invalid;rport;branch=z9hG4bKx");
    expect(noPort && formatVia(noPort)).toBe("SIP/2.0/WS df7jal23ls0d.invalid;rport;branch=z9hG4bKx");
  });
});
