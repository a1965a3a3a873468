// STUN keep-alives on a SIP UDP port (RFC 5626 §4.4.2, §8: "the UAC sends a STUN Binding Request
// ... the server ... MUST respond with a Binding response"): a Binding request (RFC 5389 §6) is
// told the address it came from in an XOR-MAPPED-ADDRESS (§15.2). Anything else that looks like
// STUN is dropped; SIP never starts with these bytes (a request starts with a method token, a
// response with "SIP/").
import { isIPv4 } from "node:net";

const MAGIC_COOKIE = 0x2112a442;
const HEADER = 20;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;

/** True when the datagram is a STUN message (RFC 5389 §6: top bits 00, the magic cookie). */
function isStun(data: Buffer): boolean {
  return data.length >= HEADER && (data[0] ?? 0xff) < 0x04 && data.readUInt32BE(4) === MAGIC_COOKIE;
}

/**
 * The Binding success response to a Binding request from `address:port`, or undefined when the
 * message is not a well-formed Binding request (it is then dropped unanswered).
 */
export function stunBindingResponse(request: Buffer, address: string, port: number): Buffer | undefined {
  if (!isStun(request) || request.readUInt16BE(0) !== BINDING_REQUEST) return undefined;
  const length = request.readUInt16BE(2);
  if (length % 4 !== 0 || HEADER + length !== request.length) return undefined;
  const v4 = isIPv4(address);
  const family = v4 ? 0x01 : 0x02;
  const addressBytes = v4 ? Buffer.from(address.split(".").map(Number)) : ipv6Bytes(address);
  if (!addressBytes) return undefined;
  const transactionId = request.subarray(8, HEADER);
  // §15.2: the port XORed with the cookie's high 16 bits; the address with the cookie (IPv4), or
  // with the cookie followed by the transaction id (IPv6).
  const key = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), transactionId]);
  const xored = Buffer.from(addressBytes.map((b, i) => b ^ (key[i] ?? 0)));
  const value = Buffer.alloc(4 + xored.length);
  value.writeUInt8(0, 0);
  value.writeUInt8(family, 1);
  value.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 2);
  xored.copy(value, 4);
  const out = Buffer.alloc(HEADER + 4 + value.length);
  out.writeUInt16BE(BINDING_SUCCESS, 0);
  out.writeUInt16BE(4 + value.length, 2);
  out.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(out, 8);
  out.writeUInt16BE(XOR_MAPPED_ADDRESS, HEADER);
  out.writeUInt16BE(value.length, HEADER + 2);
  value.copy(out, HEADER + 4);
  return out;
}

function ipv6Bytes(address: string): Buffer | undefined {
  const [head = "", tail] = address.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return out;
}
