// The random and mutated inputs of the fuzz tests (and of bench:attack's fuzzing of a running
// sipext): a seeded PRNG, RFC 4475's torture messages as seeds, and a mutator of their bytes.
import * as T from "./rfc4475-messages.js";

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  return (n: number): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n;
  };
}

export const SEEDS: Buffer[] = Object.entries(T)
  .filter(([k, v]) => Buffer.isBuffer(v) && k !== "MPART01_BINARY")
  .map(([, v]) => v as Buffer);

const SPECIAL = [
  "\r\n",
  "\r\n ",
  ":",
  ";",
  ",",
  '"',
  "\\",
  "<",
  ">",
  "@",
  "%",
  "%4",
  "=",
  "?",
  "[",
  "]",
  " ",
  "\0",
  "\xff",
  "é",
  "\r",
  "\n",
].map((s) => Buffer.from(s, "latin1"));

export function mutate(rnd: (n: number) => number, input: Buffer): Buffer {
  let b = Buffer.from(input);
  const rounds = 1 + Math.floor(rnd(4));
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(rnd(b.length + 1));
    switch (Math.floor(rnd(6))) {
      case 0: // flip a byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(rnd(256));
        break;
      case 1: // insert a special sequence
        b = Buffer.concat([
          b.subarray(0, at),
          SPECIAL[Math.floor(rnd(SPECIAL.length))] ?? Buffer.alloc(0),
          b.subarray(at),
        ]);
        break;
      case 2: // delete a span
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + Math.floor(rnd(20)))]);
        break;
      case 3: // truncate
        b = b.subarray(0, at);
        break;
      case 4: {
        // duplicate a span
        const len = Math.floor(rnd(60));
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
        break;
      }
      default: {
        // change a digit run (lengths, sequence numbers)
        const i = b.indexOf(0x30 + Math.floor(rnd(10)), at);
        if (i >= 0) b[i] = 0x30 + Math.floor(rnd(10));
      }
    }
  }
  return b;
}
