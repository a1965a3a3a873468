// Flow tokens (after RFC 5626 §5.2): the transport, address and port a request really came from,
// signed so that nobody can make the proxy send to an address of their choosing. The proxy
// puts the caller's and the callee's flows into its Record-Route, so every in-dialog request
// finds both devices again, even behind NAT, without any dialog state on the proxy.
import { createHmac, timingSafeEqual } from "node:crypto";
import { detach } from "../message/detach.js";
import type { FlowAddress, TransportName } from "../transport/flow.js";

export type { FlowAddress } from "../transport/flow.js";

const MAC_BYTES = 9;
/** One letter per transport in the token's text (u and t as in tokens issued before TLS and WS). */
const LETTER: Readonly<Record<TransportName, string>> = { UDP: "u", TCP: "t", TLS: "s", WS: "w", WSS: "x" };
const BY_LETTER = new Map(Object.entries(LETTER).map(([name, l]) => [l, name as TransportName]));
/**
 * Every call encodes two tokens and every in-dialog request checks two, an HMAC each; the same
 * few flows (a device, a trunk) recur in call after call, so the answers are remembered, up to
 * this many of each kind (then forgotten all at once: a miss only costs the HMAC again).
 */
const REMEMBERED = 10_000;

export class FlowTokens {
  private readonly encoded = new Map<string, string>();
  /** tokens that verified, and their flow (a forged token is never remembered) */
  private readonly decoded = new Map<string, Readonly<FlowAddress>>();

  constructor(private readonly key: Buffer) {}

  private mac(text: string): Buffer {
    return createHmac("sha256", this.key).update(text).digest().subarray(0, MAC_BYTES);
  }

  encode(flow: FlowAddress): string {
    const text = `${LETTER[flow.transport]}|${flow.address}|${flow.port}`;
    const known = this.encoded.get(text);
    if (known !== undefined) return known;
    const token = `${Buffer.from(text).toString("base64url")}.${this.mac(text).toString("base64url")}`;
    remember(this.encoded, detach(text), token);
    return token;
  }

  /** The flow of a token this proxy made; undefined when it is malformed or forged. */
  decode(token: string): Readonly<FlowAddress> | undefined {
    const known = this.decoded.get(token);
    if (known) return known;
    const flow = this.verify(token);
    // The token is cut from a request's text: the copy remembered must not hold the message.
    if (flow) remember(this.decoded, detach(token), flow);
    return flow;
  }

  private verify(token: string): FlowAddress | undefined {
    const dot = token.indexOf(".");
    if (dot < 1 || token.length > 128) return undefined;
    const text = Buffer.from(token.slice(0, dot), "base64url").toString();
    // Compared as text: base64url decoding would forgive trailing characters.
    const mac = Buffer.from(token.slice(dot + 1));
    const want = Buffer.from(this.mac(text).toString("base64url"));
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return undefined;
    if (Buffer.from(text).toString("base64url") !== token.slice(0, dot)) return undefined;
    const [t, address, port] = text.split("|");
    const transport = t === undefined ? undefined : BY_LETTER.get(t);
    if (!transport || !address || !port || !/^\d{1,5}$/.test(port)) return undefined;
    return { transport, address, port: Number(port) };
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= REMEMBERED) map.clear();
  map.set(key, value);
}

export const sameFlow = (a: FlowAddress, b: FlowAddress) =>
  a.transport === b.transport && a.address === b.address && a.port === b.port;
