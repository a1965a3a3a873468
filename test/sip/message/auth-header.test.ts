import { describe, expect, it } from "vitest";
import { formatChallenge, parseAuthHeader } from "../../../src/sip/message/auth-header.js";

describe("parseAuthHeader", () => {
  it("reads Digest credentials: case-insensitive names, unquoted values, commas inside quotes", () => {
    const a = parseAuthHeader(
      'Digest username="100", Realm="c1.sip.example.com",nonce="MTcw,MDA=" ,  uri="sip:c1.sip.example.com;transport=tcp", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001, opaque="x\\"y"',
    );
    expect(a?.scheme).toBe("Digest");
    expect(Object.fromEntries(a?.params ?? [])).toEqual({
      username: "100",
      realm: "c1.sip.example.com",
      nonce: "MTcw,MDA=",
      uri: "sip:c1.sip.example.com;transport=tcp",
      response: "6629fae49393a05397450978507c4ef1",
      algorithm: "MD5",
      cnonce: "0a4f113b",
      qop: "auth",
      nc: "00000001",
      opaque: 'x"y',
    });
  });

  it("reads challenges and unknown schemes", () => {
    const c = parseAuthHeader('Digest realm="a", nonce="b", qop="auth,auth-int", stale=TRUE');
    expect(c?.params.get("qop")).toBe("auth,auth-int");
    expect(c?.params.get("stale")).toBe("TRUE");
    expect(parseAuthHeader("NoOneKnowsThisScheme opaque-data=here")?.params.get("opaque-data")).toBe("here");
    expect(parseAuthHeader("Digest")?.params.size).toBe(0);
  });

  it("tolerates an unquoted uri and empty list elements", () => {
    expect(parseAuthHeader("Digest uri=sip:a@b, ,realm=x")?.params.get("uri")).toBe("sip:a@b");
  });

  it("refuses a repeated parameter (a second response must not shadow the first)", () => {
    expect(parseAuthHeader('Digest response="a", response="b"')).toBeUndefined();
    expect(parseAuthHeader('Digest realm="a", REALM="b"')).toBeUndefined();
  });

  it("refuses malformed values", () => {
    for (const bad of [
      'Digest realm="unterminated',
      "Digest realm",
      "Digest =x",
      'Digest realm="a" nonce="b"',
      "",
      ",Digest",
    ])
      expect(parseAuthHeader(bad), bad).toBeUndefined();
  });
});

describe("formatChallenge", () => {
  it("writes the challenge spelled exactly as CONTRACT §7 requires", () => {
    const text = formatChallenge("Digest", [
      ["realm", "c1.sip.example.com"],
      ["nonce", "MTcwMDAwMDAwMDpkZWFkYmVlZg"],
      ["qop", "auth"],
      ["algorithm", "MD5"],
    ]);
    expect(text).toBe(
      'Digest realm="c1.sip.example.com", nonce="MTcwMDAwMDAwMDpkZWFkYmVlZg", qop="auth", algorithm=MD5',
    );
    expect(Object.fromEntries(parseAuthHeader(text)?.params ?? [])).toEqual({
      realm: "c1.sip.example.com",
      nonce: "MTcwMDAwMDAwMDpkZWFkYmVlZg",
      qop: "auth",
      algorithm: "MD5",
    });
  });

  it("writes stale unquoted and escapes quotes in quoted values", () => {
    expect(
      formatChallenge("Digest", [
        ["realm", 'a"b'],
        ["stale", "true"],
      ]),
    ).toBe('Digest realm="a\\"b", stale=true');
  });
});
