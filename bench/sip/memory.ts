// Child of bench/sip/run.ts (started with --expose-gc): the memory one registration costs in the
// registrar's location index. A LocationService over a no-op BindingStore (the index is measured,
// not the write queue, which flush() empties) is filled with N live bindings, each read from a
// real REGISTER datagram by src/sip/message/parser.ts and handed over the way src/sip/stack.ts
// does, so that every string in the index comes from parsing as in production. Then
//   (heapUsed after gc − heapUsed before) / N
// is the cost of one binding, its extension's index entry included (one binding per extension,
// the common case).
//
//   node --expose-gc --import tsx bench/sip/memory.ts [N]
import { randomBytes, randomUUID } from "node:crypto";
import { getContacts, getCSeq, getTo, parseDeltaSeconds } from "../../src/sip/message/fields.js";
import { parseMessage } from "../../src/sip/message/parser.js";
import { type ContactUpdate, LocationService, type RequestOrigin } from "../../src/sip/registrar/location.js";
import type { LocationStore } from "../../src/sip/registrar/location-store.js";
import { DEFAULT_EXPIRES, MAX_EXPIRES } from "../../src/sip/registrar/registrar.js";
import { systemClock } from "../../src/util/time.js";
import { printResult } from "../proc.js";
import { domainOf, tenantOf, userOf } from "../user-set.js";

/** heapUsed before and after N bindings; indexed: the index's size(), writesFlushed: what reached the store */
export type MemoryResult = { bindings: number; heapBefore: number; heapAfter: number } & Checks;
type Checks = { bytesPerBinding: number; indexed: number; writesFlushed: number; ms: number };

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("memory.ts needs node --expose-gc");
const collect = () => {
  for (let i = 0; i < 4; i++) gc();
};
const N = Number(process.argv[2] ?? 100_000);

// A user agent shared by many: the few phone and softphone models of a deployment.
const USER_AGENTS = [
  "Linphone-Desktop/5.2.6 (Debian GNU/Linux 12 (bookworm), Qt 5.15.8) LinphoneCore/5.3.0",
  "Zoiper rv2.10.19.6",
  "Yealink SIP-T46U 108.86.0.75",
  "PolycomVVX-VVX_411-UA/6.4.3.5018",
  "Grandstream GXP2170 1.0.11.23",
  "baresip v3.10.1 (x86_64/linux)",
  "MicroSIP/3.21.3",
  "Bria 6 release 6.6.1 stamp 112375",
];

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/** A Call-ID as the UA kinds above make them (RFC 3261 §8.1.1.4: globally unique, often @host). */
function callIdOf(i: number, ip: string): string {
  switch (i % 4) {
    case 0:
      return `${randomBytes(12).toString("base64url")}`; // belle-sip / Linphone style
    case 1:
      return `${randomBytes(24).toString("base64url")}.`; // Zoiper style
    case 2:
      return `${hex(8)}-${hex(4)}@${ip}`; // hardware phones: random@ip
    default:
      return randomUUID(); // JsSIP / SIP.js style
  }
}

/** The public address a REGISTER arrives from: many distinct NAT addresses and source ports. */
function sourceOf(i: number): { ip: string; port: number } {
  const a = [192, 198, 203, 100][i % 4] as number;
  // fresh string every time, as rinfo.address is for each datagram
  const ip = `${a}.${(i >> 14) & 255}.${(i >> 7) & 127}.${(i % 250) + 2}`;
  return { ip, port: 1024 + ((i * 7919) % 64000) };
}

function registerDatagram(i: number, user: string, domain: string, ip: string, port: number): Buffer {
  const instance = i % 3 === 0 ? `;+sip.instance="<urn:uuid:${randomUUID()}>";reg-id=1` : "";
  const callId = callIdOf(i, ip);
  const ua = USER_AGENTS[i % USER_AGENTS.length];
  return Buffer.from(
    [
      `REGISTER sip:${domain} SIP/2.0`,
      `Via: SIP/2.0/UDP ${ip}:${port};rport;branch=z9hG4bK.${hex(6)}`,
      "Max-Forwards: 70",
      `From: <sip:${user}@${domain}>;tag=${hex(5)}`,
      `To: <sip:${user}@${domain}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${20 + (i % 7)} REGISTER`,
      `Contact: <sip:${user}@${ip}:${port};transport=UDP;ob>${instance}`,
      "Expires: 3600",
      `User-Agent: ${ua}`,
      "Supported: replaces, outbound, gruu, path",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
    "utf8",
  );
}

/** A string as a database driver hands it over: flat, made by native code. */
const fromDatabase = (s: string) => Buffer.from(s, "latin1").toString("latin1");

let writesFlushed = 0;
const noopStore: LocationStore = {
  loadLive: async () => [],
  apply: async (writes) => {
    writesFlushed += writes.length;
  },
  deleteExpired: async () => 0,
};

/** What src/sip/stack.ts (readRegister) and registrar.ts hand to LocationService.register. */
function fromDatagram(buf: Buffer, ip: string, port: number) {
  const parsed = parseMessage(buf);
  if (!parsed.ok || parsed.message.kind !== "request") throw new Error("benchmark REGISTER did not parse");
  const h = parsed.message.headers;
  const to = getTo(h)?.sipUri;
  const contacts = getContacts(h);
  const cseq = getCSeq(h);
  if (!to?.user || !cseq || contacts === undefined || contacts === "*") throw new Error("bad REGISTER");
  const headerExpires = parseDeltaSeconds(h.get("Expires") ?? "");
  const updates: ContactUpdate[] = contacts.map((c) => {
    const e = c.params.get("expires");
    const inst = c.params.get("+sip.instance");
    const expires = (e ? parseDeltaSeconds(e) : undefined) ?? headerExpires ?? DEFAULT_EXPIRES;
    const instanceId = inst?.replace(/^"|"$/g, "") ?? "";
    return { contact: c.uri, expires: Math.min(expires, MAX_EXPIRES), instanceId };
  });
  const origin: RequestOrigin = {
    receivedIp: ip,
    receivedPort: port,
    transport: "UDP",
    userAgent: h.get("User-Agent") ?? "",
    callId: h.get("Call-ID") ?? "",
    cseq: cseq.seq,
  };
  return { user: to.user, updates, origin };
}

// Kept reachable to the end, so that what is measured is not collected.
let location: LocationService | undefined = new LocationService({ store: noopStore, clock: systemClock() });
// The customer id comes from the credential source's cache: one string per customer.
const customerIds = Array.from({ length: 10 }, () => fromDatabase(randomUUID()));

collect();
const heapBefore = process.memoryUsage().heapUsed;
const started = performance.now();
for (let i = 0; i < N; i++) {
  const n = i + 1;
  const d = tenantOf(n);
  const { ip, port } = sourceOf(i);
  const reg = fromDatagram(registerDatagram(i, userOf(n), domainOf(d), ip, port), ip, port);
  // The extension id as the credential lookup returns it: a fresh flat string from the database
  // row (crypto.randomUUID() itself returns a chain of ~20 concatenated pieces: not what a row holds).
  const extensionId = fromDatabase(randomUUID());
  location.register(extensionId, customerIds[d - 1] as string, reg.updates, reg.origin);
  if (n % 5_000 === 0) await location.flush();
}
await location.flush();
const ms = performance.now() - started;
collect();
const heapAfter = process.memoryUsage().heapUsed;
const indexed = location.size();

const bytesPerBinding = Math.round((heapAfter - heapBefore) / N);
const checks = { bytesPerBinding, indexed, writesFlushed, ms };
const result: MemoryResult = { bindings: N, heapBefore, heapAfter, ...checks };
if (indexed !== N || writesFlushed !== N)
  throw new Error(`expected ${N} bindings: ${JSON.stringify(result)}`);
location = undefined;
printResult(result);
process.exit(0);
