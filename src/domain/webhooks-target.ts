// Where a webhook may point (CONTRACT §11): an absolute http(s) URL whose host is, and resolves
// only to, public addresses. Loopback, private (RFC 1918), shared (RFC 6598), link-local,
// unique-local, unspecified, multicast and reserved addresses are refused — a customer must not
// make the server call into its own network (SSRF) — unless SIPEXT_WEBHOOK_ALLOW_PRIVATE=true.
// IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by it. The
// same rule is applied again at delivery time, to the address the connection really uses.
import { type LookupAddress, lookup } from "node:dns";
import { isIP } from "node:net";
import { invalidArgument } from "./errors.js";

/** 4 bytes for IPv4, 16 for IPv6; undefined when `ip` is neither. */
function ipBytes(ip: string): number[] | undefined {
  const bare = ip.replace(/%.*$/, "");
  const family = isIP(bare);
  if (family === 4) return bare.split(".").map(Number);
  if (family !== 6) return undefined;
  let text = bare.toLowerCase();
  let tail: number[] = [];
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    tail = dotted[1].split(".").map(Number);
    text = `${text.slice(0, dotted.index)}:0:0`;
  }
  const [head = "", rest] = text.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function publicV4([a = 0, b = 0, c = 0]: number[]): boolean {
  if (a === 0 || a === 10 || a === 127) return false; // this network, private, loopback
  if (a === 100 && b >= 64 && b <= 127) return false; // shared address space (carrier NAT)
  if (a === 169 && b === 254) return false; // link-local (cloud metadata lives here)
  if (a === 172 && b >= 16 && b <= 31) return false; // private
  if (a === 192 && b === 168) return false; // private
  if (a === 192 && b === 0 && c === 0) return false; // IETF protocol assignments
  if (a === 198 && (b === 18 || b === 19)) return false; // benchmarking
  return a < 224; // multicast, reserved and broadcast above
}

/** True when `ip` is a public unicast address a webhook may be delivered to. */
export function isPublicAddress(ip: string): boolean {
  const b = ipBytes(ip);
  if (!b) return false;
  if (b.length === 4) return publicV4(b);
  const v4 = b.slice(12);
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return publicV4(v4); // ::ffff:a.b.c.d
  if (zero(0, 12)) return zero(12, 15) ? false : publicV4(v4); // ::, ::1, ::a.b.c.d
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = b;
  // 64:ff9b::/96 (NAT64) carries an IPv4 address; 64:ff9b:1::/48 is for local use.
  if (b0 === 0x00 && b1 === 0x64 && b2 === 0xff && b3 === 0x9b) return zero(4, 12) && publicV4(v4);
  if (b0 === 0x20 && b1 === 0x02) return publicV4(b.slice(2, 6)); // 6to4
  if (b0 === 0xfe && (b1 & 0xc0) === 0x80) return false; // link-local fe80::/10
  if (b0 === 0xfe && (b1 & 0xc0) === 0xc0) return false; // site-local fec0::/10 (deprecated)
  if ((b0 & 0xfe) === 0xfc) return false; // unique-local fc00::/7
  if (b0 === 0xff) return false; // multicast
  if (b0 === 0x01 && b1 === 0x00 && zero(2, 8)) return false; // discard-only 100::/64
  return true;
}

/** Resolves a host name to every address, as the connection would (A and AAAA). */
export type LookupAll = (host: string) => Promise<string[]>;

export const lookupAll: LookupAll = (host) =>
  new Promise((resolve, reject) =>
    lookup(host, { all: true, verbatim: true }, (err, addresses: LookupAddress[]) =>
      err ? reject(err) : resolve(addresses.map((a) => a.address)),
    ),
  );

/** The URL's host without IPv6 brackets. */
export const bareHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, "");

/** Why `uri` cannot be a webhook target on its form alone; undefined when its form is fine. */
function formProblem(uri: string): string | undefined {
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) return "must not contain spaces or control characters";
  if (!URL.canParse(uri)) return "must be an absolute URL such as https://example.com/hook";
  const url = new URL(uri);
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must be an http:// or https:// URL";
  if (url.username !== "" || url.password !== "")
    return "must not carry a user name or password (the signature authenticates sipext)";
  if (bareHost(url) === "") return "must name a host";
  return undefined;
}

/**
 * Checks a webhook URI before it is stored: its form, and (unless private targets are allowed)
 * that its host is or resolves to public addresses only. Throws a 400 naming `webhook_uri`.
 */
export async function checkWebhookUri(
  uri: string,
  allowPrivate: boolean,
  resolve = lookupAll,
): Promise<void> {
  const problem = formProblem(uri);
  if (problem) throw invalidArgument("webhook_uri", problem);
  if (allowPrivate) return;
  const host = bareHost(new URL(uri));
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch {
      throw invalidArgument("webhook_uri", `the host ${host} does not resolve`);
    }
  }
  const bad = addresses.find((a) => !isPublicAddress(a));
  if (bad !== undefined || addresses.length === 0) {
    const what = bad === host || bad === undefined ? host : `${host} resolves to ${bad}, which`;
    throw invalidArgument(
      "webhook_uri",
      `${what} is not a public address (loopback, private, link-local, unique-local or unspecified); ` +
        "such targets need SIPEXT_WEBHOOK_ALLOW_PRIVATE=true",
    );
  }
}
