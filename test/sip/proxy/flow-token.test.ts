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

  it("remembered answers are the same answers, past the remembered count too", () => {
    const mine = new FlowTokens(Buffer.alloc(32, 3));
    const flows = Array.from({ length: 10_050 }, (_, i) => ({
      transport: i % 2 ? ("TCP" as const) : ("UDP" as const),
      address: `10.0.${i >> 8}.${i & 255}`,
      port: 5060 + (i % 7),
    }));
    const made = flows.map((f) => mine.encode(f));
    // encoding again (remembered, or forgotten and made again) gives the very same token
    expect(flows.map((f) => mine.encode(f))).toEqual(made);
    for (let round = 0; round < 2; round++) {
      flows.forEach((f, i) => {
        expect(mine.decode(made[i] as string)).toEqual(f);
      });
    }
    // a token that verified once does not make an altered twin pass
    const first = made[0] as string;
    const [text, mac] = first.split(".") as [string, string];
    const twin = `${Buffer.from("u|198.51.100.1|5060").toString("base64url")}.${mac}`;
    expect(mine.decode(twin)).toBeUndefined();
    const altered = `${mac.slice(0, -1)}${mac.endsWith("A") ? "B" : "A"}`;
    expect(mine.decode(`${text}.${altered}`)).toBeUndefined();
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
