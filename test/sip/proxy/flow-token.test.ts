import { describe, expect, it } from "vitest";
import { FlowTokens, sameFlow } from "../../../src/sip/proxy/flow-token.js";
import { classifyAddress } from "../../../src/sip/proxy/targets.js";

describe("flow tokens", () => {
  const tokens = new FlowTokens(Buffer.alloc(32, 1));

  it("a token gives back the flow it was made from", () => {
    for (const flow of [
      { transport: "UDP" as const, address: "192.0.2.7", port: 5060 },
      { transport: "TCP" as const, address: "2001:db8::1", port: 65535 },
    ]) {
      const back = tokens.decode(tokens.encode(flow));
      expect(back).toEqual(flow);
      expect(back && sameFlow(back, flow)).toBe(true);
    }
  });

  it("a token is only a URI parameter's worth of safe characters", () => {
    const t = tokens.encode({ transport: "UDP", address: "203.0.113.250", port: 40000 });
    expect(t).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it("a forged or altered token is refused: nobody can steer the proxy to an address", () => {
    const t = tokens.encode({ transport: "UDP", address: "192.0.2.7", port: 5060 });
    const forged = `${Buffer.from("u|198.51.100.1|5060").toString("base64url")}.${t.split(".")[1]}`;
    expect(tokens.decode(forged)).toBeUndefined();
    expect(new FlowTokens(Buffer.alloc(32, 2)).decode(t)).toBeUndefined();
    expect(tokens.decode("garbage")).toBeUndefined();
    expect(tokens.decode(`${t}x`)).toBeUndefined();
  });
});

describe("call addresses", () => {
  const reg = "registrar.localhost";
  const direct = "sip.localhost";

  it("an extension address is a user at a customer's domain", () => {
    expect(classifyAddress("100", "c1.registrar.localhost", reg, direct)).toEqual({
      kind: "extension",
      domain: "c1.registrar.localhost",
      user: "100",
    });
  });

  it("a direct URI is direct.<12 hex> at the direct domain", () => {
    expect(classifyAddress("direct.0123456789ab", direct, reg, direct)).toEqual({
      kind: "direct",
      hash: "0123456789ab",
    });
    expect(classifyAddress("direct.0123456789AB", direct, reg, direct).kind).toBe("foreign");
    expect(classifyAddress("direct.0123", direct, reg, direct).kind).toBe("foreign");
    expect(classifyAddress("100", direct, reg, direct).kind).toBe("foreign");
  });

  it("anything else is not ours to route", () => {
    expect(classifyAddress("100", "example.com", reg, direct).kind).toBe("foreign");
    expect(classifyAddress(undefined, "c1.registrar.localhost", reg, direct).kind).toBe("foreign");
    expect(classifyAddress("100", "registrar.localhost", reg, direct).kind).toBe("foreign");
  });
});
