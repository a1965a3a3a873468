// Flow tokens (after RFC 5626 §5.2): the transport, address and port a request really came from,
// signed so that nobody can make the proxy send to an address of their choosing. The proxy
// puts the caller's and the callee's flows into its Record-Route, so every in-dialog request
// finds both devices again, even behind NAT, without any dialog state on the proxy.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { TransportName } from "../transport/types.js";

export interface FlowAddress {
  transport: TransportName;
  address: string;
  port: number;
}

const MAC_BYTES = 9;

export class FlowTokens {
  constructor(private readonly key: Buffer) {}

  private mac(text: string): Buffer {
    return createHmac("sha256", this.key).update(text).digest().subarray(0, MAC_BYTES);
  }

  encode(flow: FlowAddress): string {
    const text = `${flow.transport === "TCP" ? "t" : "u"}|${flow.address}|${flow.port}`;
    return `${Buffer.from(text).toString("base64url")}.${this.mac(text).toString("base64url")}`;
  }

  /** The flow of a token this proxy made; undefined when it is malformed or forged. */
  decode(token: string): FlowAddress | undefined {
    const dot = token.indexOf(".");
    if (dot < 1 || token.length > 128) return undefined;
    const text = Buffer.from(token.slice(0, dot), "base64url").toString();
    // Compared as text: base64url decoding would forgive trailing characters.
    const mac = Buffer.from(token.slice(dot + 1));
    const want = Buffer.from(this.mac(text).toString("base64url"));
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return undefined;
    if (Buffer.from(text).toString("base64url") !== token.slice(0, dot)) return undefined;
    const [t, address, port] = text.split("|");
    if ((t !== "t" && t !== "u") || !address || !port || !/^\d{1,5}$/.test(port)) return undefined;
    return { transport: t === "t" ? "TCP" : "UDP", address, port: Number(port) };
  }
}

export const sameFlow = (a: FlowAddress, b: FlowAddress) =>
  a.transport === b.transport && a.address === b.address && a.port === b.port;
