// SIP over UDP (RFC 3261 §18): one datagram, one message.
import { createSocket, type Socket } from "node:dgram";
import { type LookupOneOptions, lookup } from "node:dns";
import { isIP, isIPv6 } from "node:net";
import { countSent } from "./counting.js";
import type { Flow, InboundHandler, TransportStats } from "./flow.js";
import { stunBindingResponse } from "./stun.js";
import { isWrapped, ownerOf, type UdpAffinity, unwrapDatagram, wrapDatagram } from "./udp-affinity.js";

export interface UdpTransport {
  port: number;
  /** a worker's own port (SIPEXT_WORKERS): siblings hand datagrams over there, other nodes relay */
  ownPort: number | undefined;
  send(address: string, port: number, data: Buffer): void;
  /** the socket is bound and not closed (CONTRACT §12's readiness) */
  listening(): boolean;
  close(): Promise<void>;
}

type Send = (data: Buffer, address: string, port: number) => void;

/**
 * Where one datagram came from. A class, not an object with a closure: server transactions keep
 * their request's flow for 32-64 s, and at thousands of requests per second a closure (and the
 * `rinfo` it would hold) per datagram is hundreds of megabytes of old-generation heap.
 */
class UdpFlow implements Flow {
  readonly transport = "UDP" as const;
  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
    private readonly socketSend: Send,
  ) {}

  send(data: Buffer, address: string = this.remoteAddress, port: number = this.remotePort): void {
    this.socketSend(data, address, port);
  }
}

/**
 * dgram resolves every destination, even an address literal, through dns.lookup and a deferred
 * callback: two extra turns of the event loop per datagram. Almost every destination is the
 * literal address a message came from, so literals are answered on the spot.
 */
function literalFirstLookup(
  address: string,
  options: LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(address);
  if (family !== 0) callback(null, address, family);
  else lookup(address, options, callback);
}

/** Binds a UDP socket; `exclusive` keeps a cluster worker's socket its own (not shared). */
async function bound(host: string, port: number, exclusive: boolean): Promise<Socket> {
  const socket: Socket = createSocket({
    type: isIPv6(host) ? "udp6" : "udp4",
    reuseAddr: false,
    lookup: literalFirstLookup,
  });
  socket.on("error", () => {
    // ICMP errors surface here on some platforms; the socket stays usable.
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ port, address: host, exclusive }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  // Absorb bursts (a load test sends thousands of datagrams per second).
  try {
    socket.setRecvBufferSize(8 * 1024 * 1024);
    socket.setSendBufferSize(8 * 1024 * 1024);
  } catch {
    // the kernel may cap the size; the default still works
  }
  return socket;
}

/** Where a sibling's socket bound on `host` is reached from this machine. */
const loopbackFor = (host: string) => (host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host);

const closed = (s: Socket) => new Promise<void>((resolve) => s.close(() => resolve()));

export async function startUdp(
  host: string,
  port: number,
  onMessage: InboundHandler,
  stats: TransportStats,
  affinity?: UdpAffinity,
): Promise<UdpTransport> {
  // A cluster worker's socket on the shared port is one handle shared by every worker.
  const socket = await bound(host, port, false);
  let open = true;
  socket.once("close", () => {
    open = false;
  });
  const sendNow = (data: Buffer, address: string, p: number) => {
    try {
      // No callback: a send error (unreachable host) is the peer's problem, and UDP gives no
      // other answer; it surfaces as an "error" event, ignored below.
      socket.send(data, p, address);
    } catch {
      // Thrown, not called back, once the socket is closed: a transaction's retransmission timer
      // firing during shutdown must not take the process down.
    }
  };
  // Datagrams go out together once the event loop has handled every datagram it read in this
  // turn (setImmediate runs right after the poll phase), in the order they were sent. A peer
  // that sleeps between datagrams is then woken once per burst instead of once per datagram:
  // under load that wake-up, paid inside our sendmsg, was a quarter of a registration's CPU.
  // The delay is at most one turn of the loop (about a millisecond under load).
  let outbox: { data: Buffer; address: string; port: number }[] = [];
  const sendOutbox = () => {
    const batch = outbox;
    outbox = [];
    for (const d of batch) sendNow(d.data, d.address, d.port);
  };
  const send = (data: Buffer, address: string, p: number) => {
    countSent(stats, data);
    if (outbox.push({ data, address, port: p }) === 1) setImmediate(sendOutbox);
  };
  const handle = (data: Buffer, address: string, p: number) => {
    // A STUN message's first byte is 0x00 or 0x01 (RFC 5389 §6); no SIP message starts so.
    if ((data[0] ?? 0xff) < 0x04) {
      // RFC 5626 §4.4.2 keep-alive: answered here, never a SIP message (anything else starting
      // so goes on to the parser, which counts it as garbage).
      const answer = stunBindingResponse(data, address, p);
      if (answer) return send(answer, address, p);
    }
    onMessage(data, new UdpFlow(address, p, send));
  };
  // SIPEXT_WORKERS: this worker's own socket, and the hand-over of its siblings' Call-IDs.
  const own = affinity && (await bound(host, 0, true));
  if (affinity && own) {
    const sibling = loopbackFor(host);
    socket.on("message", (data, rinfo) => {
      const slot = ownerOf(data, affinity);
      const to = slot === affinity.slot ? undefined : affinity.siblingPort(slot);
      if (to === undefined) return handle(data, rinfo.address, rinfo.port);
      own.send(wrapDatagram(affinity.secret, rinfo.address, rinfo.port, data), to, sibling);
    });
    own.on("message", (data, rinfo) => {
      if (!isWrapped(data)) return handle(data, rinfo.address, rinfo.port);
      const d = unwrapDatagram(affinity.secret, data);
      if (d) handle(d.data, d.address, d.port);
      else stats.garbage++;
    });
    affinity.bound(own.address().port);
  } else {
    socket.on("message", (data, rinfo) => handle(data, rinfo.address, rinfo.port));
  }
  return {
    port: socket.address().port,
    ownPort: own?.address().port,
    send: (address, p, data) => send(data, address, p),
    listening: () => open,
    close: async () => {
      sendOutbox();
      await Promise.all([closed(socket), own && closed(own)]);
    },
  };
}
