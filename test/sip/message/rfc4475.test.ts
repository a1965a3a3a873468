import { describe, expect, it } from "vitest";
import {
  getContacts,
  getCSeq,
  getFrom,
  getTo,
  getVias,
  isValidDate,
  parseAuthHeader,
  parseMaxForwards,
  parseNameAddr,
  type SipRequest,
  type SipResponse,
  unquote,
} from "../../../src/sip/message/index.js";
import { type ParseResult, parseMessage } from "../../../src/sip/message/parser.js";
import * as T from "./rfc4475-messages.js";

function request(buf: Buffer): SipRequest {
  const r: ParseResult = parseMessage(buf);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  if (r.message.kind !== "request") throw new Error("not a request");
  return r.message;
}

function response(buf: Buffer): SipResponse {
  const r = parseMessage(buf);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  if (r.message.kind !== "response") throw new Error("not a response");
  return r.message;
}

describe("RFC 4475 §3.1.1 valid messages parse", () => {
  it("wsinv (3.1.1.1): folding, LWS everywhere, mixed forms, escaped quotes, unknown headers", () => {
    const m = request(T.wsinv);
    expect(m.method).toBe("INVITE");
    expect(m.requestUri?.user).toBe("vivekg");
    expect(m.requestUri?.host).toBe("chair-dnrc.example.com");
    expect([...(m.requestUri?.params ?? [])]).toEqual([["unknownparam", null]]);

    const to = getTo(m.headers);
    expect(to?.displayName).toBeUndefined();
    expect(to?.sipUri?.user).toBe("vivekg");
    expect(to?.sipUri?.params.size).toBe(0);
    expect(to?.params.get("tag")).toBe("1918181833n");

    const from = getFrom(m.headers);
    expect(from?.displayName).toBe('J Rosenberg \\"');
    expect(from?.sipUri?.user).toBe("jdrosen");
    expect(from?.params.get("tag")).toBe("98asjd8");

    expect(parseMaxForwards(m.headers.get("Max-Forwards") ?? "")).toBe(68);
    expect(m.headers.get("Call-ID")).toBe("wsinv.ndaksdj@192.0.2.1");
    expect(getCSeq(m.headers)).toEqual({ seq: 9, method: "INVITE" });

    const vias = getVias(m.headers) ?? [];
    expect(vias.map((v) => [v.protocol, v.transport, v.host, v.port, v.params.get("branch")])).toEqual([
      ["SIP/2.0", "UDP", "192.0.2.2", undefined, "390skdjuw"],
      ["SIP/2.0", "TCP", "spindle.example.com", undefined, "z9hG4bK9ikj8"],
      ["SIP/2.0", "UDP", "192.168.255.111", undefined, "z9hG4bK30239"],
    ]);

    expect(m.headers.has("Subject")).toBe(true);
    expect(m.headers.get("Subject")).toBe("");
    expect(m.headers.get("NewFangledHeader")).toBe("newfangled value continued newfangled value");
    expect(m.headers.get("UnknownHeaderWithUnusualValue")).toBe(";;,,;;,;");
    expect(m.headers.get("content-type")).toBe("application/sdp");

    const route = parseNameAddr(m.headers.getAll("Route")[0] ?? "");
    expect([...(route?.sipUri?.params ?? [])]).toEqual([
      ["lr", null],
      ["unknownwith", "value"],
      ["unknown-no-value", null],
    ]);

    const contacts = getContacts(m.headers);
    expect(Array.isArray(contacts) && contacts.length).toBe(1);
    const c = Array.isArray(contacts) ? contacts[0] : undefined;
    expect(c?.displayName).toBe('Quoted string ""');
    expect(c?.sipUri?.host).toBe("example.com");
    expect([...(c?.params ?? [])]).toEqual([
      ["newparam", "newvalue"],
      ["secondparam", null],
      ["q", "0.33"],
    ]);

    expect(m.body.length).toBe(150);
    expect(m.body.toString("latin1", 0, 5)).toBe("v=0\r\n");
    expect([...m.headers.entries()].map((h) => h.name)).toEqual([
      "To",
      "From",
      "Max-Forwards",
      "Call-ID",
      "Content-Length",
      "CSeq",
      "Via",
      "Subject",
      "NewFangledHeader",
      "UnknownHeaderWithUnusualValue",
      "Content-Type",
      "Route",
      "Via",
      "Contact",
    ]);
  });

  it("intmeth (3.1.1.2): unusual token characters, quoted NUL/BEL/DEL, UTF-8 values", () => {
    const m = request(T.intmeth);
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(m.requestUri?.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(m.requestUri?.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(m.requestUri?.host).toBe("example.com");
    expect(getVias(m.headers)?.[0]?.params.get("branch")).toBe("z9hG4bK-.!%66*_+`'~");

    const to = getTo(m.headers);
    expect(to?.displayName).toBe("BEL:\x07 NUL:\x00 DEL:\x7f");
    expect(to?.sipUri?.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");

    const from = getFrom(m.headers);
    expect(from?.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(unquote(from?.params.get("fromparam''~+*_!.-%") ?? "")).toBe("работающий");
    expect(from?.params.get("tag")).toBe("_token~1'+`*%!-.");

    expect(m.headers.get("Call-ID")).toBe("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    expect(getCSeq(m.headers)).toEqual({ seq: 139122385, method: m.method });
    expect(parseMaxForwards(m.headers.get("Max-Forwards") ?? "")).toBe(255);
    // the value starts with a BOM, which is content, not whitespace
    expect(m.headers.get("extensionHeader-!.%*+_`'~")).toBe("\ufeff大停電");
  });

  it("esc01 (3.1.1.3): %-escapes in user parts and URI parameters are unescaped", () => {
    const m = request(T.esc01);
    expect(m.requestUri?.user).toBe("sips:user@example.com");
    expect(m.requestUri?.host).toBe("example.net");
    expect(getTo(m.headers)?.sipUri?.user).toBe("user");
    expect(getFrom(m.headers)?.sipUri?.user).toBe("I have spaces");
    const contacts = getContacts(m.headers);
    const c = Array.isArray(contacts) ? contacts[0] : undefined;
    expect(c?.sipUri?.user).toBe("caller");
    expect([...(c?.sipUri?.params ?? [])]).toEqual([
      ["lr", null],
      ["name", "value%41"],
    ]);
    expect(m.headers.get("Call-ID")).toBe("esc01.239409asdfakjkn23onasd0-3234");
    expect(m.headers.get("Content-Type")).toBe("application/sdp");
    expect(m.body.length).toBe(150);
  });

  it("escnull (3.1.1.4): escaped NULs in user parts", () => {
    const m = request(T.escnull);
    expect(getTo(m.headers)?.sipUri?.user).toBe("null-\0-null");
    expect(getFrom(m.headers)?.sipUri?.user).toBe("null-\0-null");
    const contacts = getContacts(m.headers);
    expect(Array.isArray(contacts) ? contacts.map((c) => c.sipUri?.user) : contacts).toEqual(["\0", "\0\0"]);
    expect(m.headers.get("Content-Length")).toBe("0");
  });

  it("esc02 (3.1.1.5): % outside an escape is an ordinary character", () => {
    const m = request(T.esc02);
    expect(m.method).toBe("RE%47IST%45R");
    expect(getCSeq(m.headers)?.method).toBe("RE%47IST%45R");
    expect(getTo(m.headers)?.displayName).toBe("%Z%45");
    expect(getVias(m.headers)?.[0]?.params.get("branch")).toBe("z9hG4bK209%fzsnel234");
    const contacts = getContacts(m.headers);
    expect(Array.isArray(contacts) ? contacts.map((c) => c.sipUri?.user) : contacts).toEqual([
      "alias1",
      "alias3",
    ]);
    // C%6Fntact is an unknown header, not a Contact
    expect(m.headers.get("C%6Fntact")).toBe("<sip:alias2@host2.example.com>");
  });

  it("lwsdisp (3.1.1.6): no LWS between display name and <", () => {
    const from = getFrom(request(T.lwsdisp).headers);
    expect(from?.displayName).toBe("caller");
    expect(from?.sipUri?.user).toBe("caller");
    expect(from?.params.get("tag")).toBe("323");
  });

  it("longreq (3.1.1.7): long values, 34 Vias in every case and form", () => {
    const m = request(T.longreq);
    const to = getTo(m.headers);
    expect(to?.displayName).toBe(`I have a user name of ${"extreme".repeat(10)} proportion`);
    expect(to?.sipUri?.port).toBe(6000);
    expect(to?.sipUri?.params.get("unknownparam1")).toBe(`very${"long".repeat(20)}value`);
    expect(to?.sipUri?.params.get(`longparam${"name".repeat(25)}`)).toBe("shortvalue");
    expect(to?.sipUri?.params.get(`very${"long".repeat(25)}parameternamewithnovalue`)).toBeNull();
    const from = getFrom(m.headers);
    expect(from?.sipUri?.user).toBe("amazinglylongcallername".repeat(5));
    expect(from?.params.get("tag")).toMatch(/^12982982.*982424$/);
    expect(from?.params.get(`unknownvalueless${"paramname".repeat(10)}`)).toBeNull();
    const vias = getVias(m.headers) ?? [];
    expect(vias.length).toBe(34);
    expect(vias[0]?.host).toBe("sip33.example.com");
    expect(vias[32]?.host).toBe("sip1.example.com");
    expect(vias[33]?.params.get("received")).toBe("192.0.2.5");
    expect(vias[33]?.params.get("branch")).toBe(`very${"long".repeat(50)}branchvalue`);
    expect(m.headers.get(`Unknown-${"Long".repeat(20)}-Name`)).toMatch(/^unknown-(long)+-value; unknown-/);
    expect(m.body.length).toBe(150);
  });

  it("dblreq (3.1.1.8): octets after Content-Length in a datagram are dropped", () => {
    const m = request(T.dblreq);
    expect(m.method).toBe("REGISTER");
    expect(m.headers.get("Call-ID")).toBe("dblreq.0ha0isndaksdj99sdfafnl3lk233412");
    expect(m.body.length).toBe(0);
    expect(getContacts(m.headers)).toHaveLength(1);
  });

  it("semiuri (3.1.1.9): ';' in the user part, and a folded Accept list", () => {
    const m = request(T.semiuri);
    expect(m.requestUri?.user).toBe("user;par=u@example.net");
    expect(m.requestUri?.host).toBe("example.com");
    expect(m.requestUri?.params.size).toBe(0);
    expect(m.headers.getAll("Accept")).toEqual([
      "application/sdp",
      "application/pkcs7-mime",
      "multipart/mixed",
      "multipart/signed",
      "message/sip",
      "message/sipfrag",
    ]);
  });

  it("transports (3.1.1.10): varied and unknown transports", () => {
    const vias = getVias(request(T.transports).headers) ?? [];
    expect(vias.map((v) => v.transport)).toEqual(["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    expect(vias.map((v) => v.host)).toEqual([1, 2, 3, 4, 5].map((n) => `t${n}.example.com`));
  });

  it("mpart01 (3.1.1.11): a binary multipart body is kept byte for byte", () => {
    const m = request(T.mpart01);
    expect(m.body.length).toBe(553);
    expect(m.body.indexOf(T.MPART01_BINARY)).toBeGreaterThan(0);
    expect(m.body.subarray(m.body.length - 22).toString("latin1")).toBe("--7a9cbec02ceef655--\r\n");
    const via = getVias(m.headers)?.[0];
    expect(via?.port).toBe(5070);
    expect(via?.params.has("rport")).toBe(true);
    expect(via?.params.get("rport")).toBeNull();
    expect(isValidDate(m.headers.get("Date") ?? "")).toBe(true);
    expect(m.headers.get("y")).toMatch(/^r5mwreLuyDRYBi/);
  });

  it("unreason (3.1.1.12): a UTF-8 Reason-Phrase", () => {
    const m = response(T.unreason);
    expect(m.status).toBe(200);
    expect(m.reason).toBe(T.UNREASON_PHRASE);
    expect(m.body.length).toBe(154);
  });

  it("noreason (3.1.1.13): an empty Reason-Phrase", () => {
    const m = response(T.noreason);
    expect(m.status).toBe(100);
    expect(m.reason).toBe("");
    expect(getTo(m.headers)?.params.get("tag")).toBe("902jndnke3");
  });
});

describe("RFC 4475 §3.1.2 and §3.3 malformed messages are refused", () => {
  // [fixture, reason, can be answered (status) or must be dropped (undefined)]
  const cases: Array<[string, Buffer, RegExp, 400 | 505 | undefined]> = [
    ["badinv01 (3.1.2.1)", T.badinv01, /^Malformed Via header$/, 400],
    ["clerr (3.1.2.2)", T.clerr, /^Content-Length larger than body$/, 400],
    ["ncl (3.1.2.3)", T.ncl, /^Malformed Content-Length header$/, 400],
    ["scalar02 (3.1.2.4)", T.scalar02, /^Malformed CSeq header$/, 400],
    ["scalarlg (3.1.2.5)", T.scalarlg, /^Malformed CSeq header$/, undefined],
    ["quotbal (3.1.2.6)", T.quotbal, /^Malformed To header$/, 400],
    ["ltgtruri (3.1.2.7)", T.ltgtruri, /^Malformed Request-URI$/, 400],
    ["lwsruri (3.1.2.8)", T.lwsruri, /^Malformed Request-Line$/, 400],
    ["lwsstart (3.1.2.9)", T.lwsstart, /^Malformed Request-Line$/, 400],
    ["trws (3.1.2.10)", T.trws, /^Malformed Request-Line$/, 400],
    ["escruri (3.1.2.11)", T.escruri, /^Malformed Request-URI$/, 400],
    ["baddate (3.1.2.12)", T.baddate, /^Malformed Date header$/, 400],
    ["regbadct (3.1.2.13)", T.regbadct, /^Malformed Contact header$/, 400],
    ["badaspec (3.1.2.14)", T.badaspec, /^Malformed To header$/, 400],
    ["baddn (3.1.2.15)", T.baddn, /^Malformed From header$/, 400],
    ["badvers (3.1.2.16)", T.badvers, /^Unsupported SIP version$/, 505],
    ["mismatch01 (3.1.2.17)", T.mismatch01, /^CSeq method does not match request method$/, 400],
    ["mismatch02 (3.1.2.18)", T.mismatch02, /^CSeq method does not match request method$/, 400],
    ["bigcode (3.1.2.19)", T.bigcode, /^Malformed Status-Line$/, undefined],
    ["insuf (3.3.1)", T.insuf, /^Missing (From|To|Call-ID) header$/, undefined],
    ["multi01 (3.3.8)", T.multi01, /^Multiple (From|To|Call-ID|CSeq|Max-Forwards) headers$/, 400],
    ["mcl01 (3.3.9)", T.mcl01, /^Multiple Content-Length headers$/, 400],
  ];

  for (const [name, buf, reason, status] of cases) {
    it(`${name} is refused with "${reason.source.slice(1, -1)}"`, () => {
      const r = parseMessage(buf);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.reason).toMatch(reason);
      expect(r.status).toBe(status);
      if (status === undefined) expect(r.request).toBeUndefined();
      else {
        // enough was read to build the response: the method and the headers it copies
        const method = new TextDecoder().decode(buf.subarray(0, buf.indexOf(0x20)));
        expect(r.request?.method).toBe(method);
        for (const h of ["Via", "From", "To", "Call-ID", "CSeq"])
          expect(r.request?.headers.has(h)).toBe(true);
      }
    });
  }
});

describe("RFC 4475 §3.3/§3.4 messages that are syntactically valid", () => {
  it("unkscm (3.3.2): an unknown Request-URI scheme parses, with no parsed URI (a UAS answers 416)", () => {
    const m = request(T.unkscm);
    expect(m.uri).toBe("nobodyKnowsThisScheme:totallyopaquecontent");
    expect(m.requestUri).toBeUndefined();
  });

  it("unksm2 (3.3.4): unknown schemes in To, From and Contact parse", () => {
    const m = request(T.unksm2);
    expect(getTo(m.headers)?.uri).toBe("isbn:2983792873");
    expect(getTo(m.headers)?.sipUri).toBeUndefined();
    expect(getFrom(m.headers)?.uri).toBe("http://www.example.com");
    const contacts = getContacts(m.headers);
    expect(Array.isArray(contacts) ? contacts[0]?.uri : contacts).toBe("name:John_Smith");
  });

  it("regaut01 (3.3.7): an unknown Authorization scheme parses", () => {
    const auth = parseAuthHeader(request(T.regaut01).headers.get("Authorization") ?? "");
    expect(auth?.scheme).toBe("NoOneKnowsThisScheme");
    expect(auth?.params.get("opaque-data")).toBe("here");
  });

  it("regescrt (3.3.14): URI headers inside <> in a Contact are kept, unescaped", () => {
    const contacts = getContacts(request(T.regescrt).headers);
    const c = Array.isArray(contacts) ? contacts[0] : undefined;
    expect(c?.sipUri?.headers).toEqual([["Route", "<sip:sip.example.com>"]]);
  });

  it("inv2543 (3.4.1): RFC 2543 syntax (no branch, Max-Forwards or Content-Length) parses; the body runs to the end", () => {
    const m = request(T.inv2543);
    expect(getVias(m.headers)?.[0]?.params.size).toBe(0);
    expect(m.headers.has("Max-Forwards")).toBe(false);
    expect(m.body.toString("latin1")).toMatch(/^v=0\r\n[\s\S]*m=audio 49217 RTP\/AVP 0\r\n$/);
  });
});
