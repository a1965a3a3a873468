// The webhook address policy and retry schedule (CONTRACT §11), as pure functions: which addresses
// count as public (IPv4, IPv6, and IPv6 forms that carry an IPv4 address), and the back-off.
import { describe, expect, it } from "vitest";
import { isPublicAddress } from "../../src/domain/webhooks-target.js";
import { backoffMs, WEBHOOK_TIMING } from "../../src/domain/webhooks-worker.js";

describe("isPublicAddress", () => {
  it.each([
    "0.0.0.0",
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "100.64.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "192.0.0.8",
    "198.18.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "64:ff9b::a00:1",
    "64:ff9b:1::1",
    "2002:c0a8:101::1",
    "fe80::1",
    "fe80::1%eth0",
    "febf::1",
    "fec0::1",
    "fc00::1",
    "fd12:3456:789a::1",
    "ff02::1",
    "100::1",
    "not an address",
  ])("refuses %s", (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "203.0.113.10",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
  ])("accepts %s", (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});

describe("backoffMs", () => {
  it("doubles from 1 s after each failure and stops growing at 10 min", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, WEBHOOK_TIMING))).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(backoffMs(10, WEBHOOK_TIMING)).toBe(512_000);
    expect(backoffMs(11, WEBHOOK_TIMING)).toBe(600_000);
    expect(backoffMs(1000, WEBHOOK_TIMING)).toBe(600_000);
  });
});
