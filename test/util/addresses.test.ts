// Address lists (SIPEXT_TRUST_PROXY) as the configuration reads them, and matched against the
// addresses sockets report.
import { describe, expect, it } from "vitest";
import { addressBlocks, ConfigError, loadConfig } from "../../src/config.js";
import { inBlocks, unmapIpv4 } from "../../src/util/addresses.js";

describe("address lists", () => {
  it("match IPv4 and IPv6 ranges and single addresses, IPv4-mapped IPv6 included", () => {
    const trusted = inBlocks(
      addressBlocks(loadConfig({ SIPEXT_TRUST_PROXY: "10.0.0.0/8, 2001:db8::/32,127.0.0.1" }).trustProxy),
    );
    expect(trusted("10.200.3.4")).toBe(true);
    expect(trusted("::ffff:10.200.3.4")).toBe(true);
    expect(trusted("11.0.0.1")).toBe(false);
    expect(trusted("2001:db8:1::5")).toBe(true);
    expect(trusted("2001:db9::5")).toBe(false);
    expect(trusted("127.0.0.1")).toBe(true);
    expect(trusted("127.0.0.2")).toBe(false);
    expect(trusted("not an address")).toBe(false);
    expect(trusted("fe80::1%eth0")).toBe(false);
    expect(inBlocks(undefined)("10.0.0.1")).toBe(false);
    expect(unmapIpv4("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(unmapIpv4("2001:db8::1")).toBe("2001:db8::1");
  });

  it.each(["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0", "proxy.example", "10.0.0.0/8/8", "10.0.0.0/-1"])(
    "refuse %j",
    (text) => {
      expect(addressBlocks([text])).toBeUndefined();
    },
  );
});

describe("SIPEXT_TRUST_PROXY and SIPEXT_MAX_CONNECTIONS_PER_SOURCE", () => {
  it("trust nobody and allow 100 connections per source when unset or empty", () => {
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(loadConfig({ SIPEXT_TRUST_PROXY: " " }).trustProxy).toEqual([]);
    expect(loadConfig({}).maxConnectionsPerSource).toBe(100);
    expect(loadConfig({ SIPEXT_MAX_CONNECTIONS_PER_SOURCE: "7" }).maxConnectionsPerSource).toBe(7);
  });

  it.each([
    ["SIPEXT_TRUST_PROXY", "10.0.0.0/8, nginx"],
    ["SIPEXT_TRUST_PROXY", "10.0.0.0/8 ::1"],
    ["SIPEXT_MAX_CONNECTIONS_PER_SOURCE", "0"],
    ["SIPEXT_MAX_CONNECTIONS_PER_SOURCE", "1.5"],
  ])("stop on %s=%s, naming the variable", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
