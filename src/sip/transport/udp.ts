// SIP over UDP (RFC 3261 §18): one datagram, one message.
import { createSocket, type Socket } from "node:dgram";
import { type LookupOneOptions, lookup } from "node:dns";
import { isIP, isIPv6 } from "node:net";
import type { Flow, InboundHandler } from "./types.js";

export interface UdpTransport {
  port: number;
  send(address: string, port: number, data: Buffer): void;
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

export async function startUdp(host: string, port: number, onMessage: InboundHandler): Promise<UdpTransport> {
  const socket: Socket = createSocket({
    type: isIPv6(host) ? "udp6" : "udp4",
    reuseAddr: false,
    lookup: literalFirstLookup,
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
    if (outbox.push({ data, address, port: p }) === 1) setImmediate(sendOutbox);
  };
  socket.on("message", (data, rinfo) => onMessage(data, new UdpFlow(rinfo.address, rinfo.port, send)));
  socket.on("error", () => {
    // ICMP errors surface here on some platforms; the socket stays usable.
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, host, () => {
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
  return {
    port: socket.address().port,
    send: (address, p, data) => send(data, address, p),
    close: () =>
      new Promise<void>((resolve) => {
        sendOutbox();
        socket.close(() => resolve());
      }),
  };
}
