// Quick fuzzing: thousands of random and mutated inputs; the parsers must never throw, and
// whatever the message parser accepts must serialize into something it accepts again.
import { describe, expect, it } from "vitest";
import { parseAuthHeader } from "../../../src/sip/message/auth-header.js";
import { Framer } from "../../../src/sip/message/framer.js";
import { parseNameAddr } from "../../../src/sip/message/name-addr.js";
import { parseMessage } from "../../../src/sip/message/parser.js";
import { serialize } from "../../../src/sip/message/serializer.js";
import { parseUri } from "../../../src/sip/message/uri.js";
import { parseVia } from "../../../src/sip/message/via.js";
import { mutate, prng, SEEDS } from "./mutate.js";

describe("fuzz", () => {
  it("parseMessage never throws on random or mutated input, and what it accepts round-trips", () => {
    const rnd = prng(4475);
    let accepted = 0;
    for (let n = 0; n < 6000; n++) {
      let input: Buffer;
      if (n % 3 === 0) {
        input = Buffer.alloc(Math.floor(rnd(400)));
        for (let i = 0; i < input.length; i++) input[i] = Math.floor(rnd(256));
      } else input = mutate(rnd, SEEDS[Math.floor(rnd(SEEDS.length))] ?? Buffer.alloc(0));
      let result: ReturnType<typeof parseMessage> | undefined;
      expect(() => {
        result = parseMessage(input);
      }, input.toString("latin1")).not.toThrow();
      if (result?.ok) {
        accepted++;
        const again = parseMessage(serialize(result.message));
        expect(again.ok, input.toString("latin1")).toBe(true);
      } else expect(typeof result?.reason).toBe("string");
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it("the header grammar parsers never throw on random text", () => {
    const rnd = prng(3261);
    const alphabet = 'sip:@;=,<>"\\ %?&[]/.:0123456789abcdefSIPUDP\t\x00\x7fé☃-_~*+';
    for (let n = 0; n < 5000; n++) {
      let s = "";
      const len = Math.floor(rnd(60));
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd(alphabet.length))];
      if (n % 2 === 0) s = `${["sip:", "<sip:", "SIP/2.0/UDP ", "Digest ", '"a" <sip:'][n % 5]}${s}`;
      expect(() => {
        parseUri(s);
        parseNameAddr(s);
        parseVia(s);
        parseAuthHeader(s);
      }, JSON.stringify(s)).not.toThrow();
    }
  });

  it("the framer never throws on mutated streams cut at random points", () => {
    const rnd = prng(5626);
    for (let n = 0; n < 1500; n++) {
      const parts: Buffer[] = [];
      for (let k = 0; k < 3; k++)
        parts.push(mutate(rnd, SEEDS[Math.floor(rnd(SEEDS.length))] ?? Buffer.alloc(0)));
      const stream = Buffer.concat(parts);
      const f = new Framer({ maxSize: 4096 });
      let pos = 0;
      expect(() => {
        while (pos < stream.length) {
          const len = 1 + Math.floor(rnd(200));
          for (const ev of f.push(stream.subarray(pos, pos + len)))
            if (ev.type === "message") parseMessage(ev.data);
          pos += len;
        }
      }).not.toThrow();
    }
  });
});
