// Client addresses as sockets report them, matched against the operator's address lists
// (SIPEXT_TRUST_PROXY: a BlockList made by config.ts' addressBlocks).
import { type BlockList, isIP } from "node:net";

/** "::ffff:192.0.2.1" (an IPv4 client of a dual-stack listener) → "192.0.2.1"; else unchanged. */
export function unmapIpv4(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m?.[1] ?? address;
}

/** A predicate telling whether an address is in the list; false for no list or a non-address. */
export function inBlocks(blocks: BlockList | undefined): (address: string) => boolean {
  if (!blocks) return () => false;
  return (address) => {
    const a = unmapIpv4(address);
    const version = isIP(a);
    if (version === 0) return false;
    try {
      return blocks.check(a, version === 4 ? "ipv4" : "ipv6");
    } catch {
      return false; // an address BlockList cannot read (a zone id such as "fe80::1%eth0")
    }
  };
}
