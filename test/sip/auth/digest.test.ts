import { describe, expect, it } from "vitest";
import { digestHa1 } from "../../../src/domain/secrets.js";
import { type DigestCredentials, readCredentials, responseMatches } from "../../../src/sip/auth/digest.js";
import { NonceService } from "../../../src/sip/auth/nonce.js";

// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
const rfc7616 = {
  username: "Mufasa",
  realm: "http-auth@example.org",
  password: "Circle of Life",
  nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
  uri: "/dir/index.html",
  cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
  nc: "00000001",
  qop: "auth",
};

function creds(algorithm: "MD5" | "SHA-256", response: string): DigestCredentials {
  return { ...rfc7616, algorithm, response };
}

describe("digest", () => {
  const ha1 = digestHa1(rfc7616.username, rfc7616.realm, rfc7616.password);

  it("matches the RFC 7616 MD5 example", () => {
    expect(responseMatches(ha1.md5, "GET", creds("MD5", "8ca523f5e9506fed4657c9700eebdbec"))).toBe(true);
  });

  it("matches the RFC 7616 SHA-256 example", () => {
    const r = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";
    expect(responseMatches(ha1.sha256, "GET", creds("SHA-256", r))).toBe(true);
  });

  it("matches the RFC 2617 example (qop=auth, MD5)", () => {
    const h = digestHa1("Mufasa", "testrealm@host.com", "Circle Of Life");
    const c: DigestCredentials = {
      username: "Mufasa",
      realm: "testrealm@host.com",
      nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
      uri: "/dir/index.html",
      qop: "auth",
      nc: "00000001",
      cnonce: "0a4f113b",
      algorithm: "MD5",
      response: "6629fae49393a05397450978507c4ef1",
    };
    expect(responseMatches(h.md5, "GET", c)).toBe(true);
    expect(responseMatches(h.md5, "GET", { ...c, response: "6629fae49393a05397450978507c4ef2" })).toBe(false);
    expect(responseMatches(h.md5, "POST", c)).toBe(false);
  });

  it("refuses credentials with a missing or malformed part", () => {
    const base = new Map(
      Object.entries({ ...rfc7616, response: "8ca523f5e9506fed4657c9700eebdbec", algorithm: "MD5" }),
    );
    expect(readCredentials(base)).toBeDefined();
    for (const drop of ["username", "realm", "nonce", "uri", "response", "nc", "cnonce"]) {
      const m = new Map(base);
      m.delete(drop);
      expect(readCredentials(m), drop).toBeUndefined();
    }
    expect(readCredentials(new Map([...base, ["algorithm", "SHA-512"]]))).toBeUndefined();
    expect(readCredentials(new Map([...base, ["qop", "auth-int"]]))).toBeUndefined();
    expect(readCredentials(new Map([...base, ["nc", "1"]]))).toBeUndefined();
    expect(readCredentials(new Map([...base, ["response", "zz"]]))).toBeUndefined();
  });
});

describe("nonces", () => {
  const key = Buffer.alloc(32, 7);

  it("a nonce issued by one node is valid on another holding the same key", () => {
    const a = new NonceService({ key });
    const b = new NonceService({ key });
    expect(b.check("r.example", a.issue("r.example"))).toBe("valid");
  });

  it("a nonce is invalid for another realm, another key, or when altered", () => {
    const a = new NonceService({ key });
    const n = a.issue("r.example");
    expect(a.check("other.example", n)).toBe("invalid");
    expect(new NonceService({ key: Buffer.alloc(32, 8) }).check("r.example", n)).toBe("invalid");
    const i = 30; // inside the MAC
    const altered = `${n.slice(0, i)}${n[i] === "A" ? "B" : "A"}${n.slice(i + 1)}`;
    expect(a.check("r.example", altered)).toBe("invalid");
    expect(a.check("r.example", "short")).toBe("invalid");
  });

  it("an old nonce is stale, not invalid", () => {
    let t = 1_800_000_000_000;
    const a = new NonceService({ key, lifetimeMs: 1000, clock: () => t * 1000 });
    const n = a.issue("r");
    t += 999;
    expect(a.check("r", n)).toBe("valid");
    t += 2;
    expect(a.check("r", n)).toBe("stale");
  });

  it("a nonce-count is accepted once and must grow", () => {
    const a = new NonceService({ key });
    const n = a.issue("r");
    expect(a.acceptCount(n, 1)).toBe(true);
    expect(a.acceptCount(n, 1)).toBe(false);
    expect(a.acceptCount(n, 3)).toBe(true);
    expect(a.acceptCount(n, 2)).toBe(false);
  });

  it("another node's nonce-counts are checked too", () => {
    const a = new NonceService({ key });
    const b = new NonceService({ key });
    const n = a.issue("r");
    expect(b.check("r", n)).toBe("valid");
    expect(b.acceptCount(n, 1)).toBe(true);
    expect(b.acceptCount(n, 1)).toBe(false);
    expect(a.acceptCount(n, 1)).toBe(true);
  });

  it("a nonce-count of zero is never accepted", () => {
    const a = new NonceService({ key });
    const n = a.issue("r");
    expect(a.acceptCount(n, 0)).toBe(false);
    expect(a.acceptCount(n, 1)).toBe(true);
  });
});
