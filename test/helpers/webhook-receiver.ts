// A real webhook receiver for the tests: node:http on 127.0.0.1, which checks each request's
// X-Sipext-Signature the way the README tells a receiver to (HMAC-SHA256 of "<t>.<body>" with the
// secret, compared in constant time, old timestamps refused), records what it got, and answers as
// the test tells it (a status, or no answer at all).
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The README's receiver check: true when `header` signs `body` with `secret`, made in the last 5 min. */
export function verifySignature(secret: string, header: string | undefined, body: string, toleranceS = 300) {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? "");
  if (!m?.[1] || !m[2]) return false;
  if (Math.abs(Date.now() / 1000 - Number(m[1])) > toleranceS) return false;
  const expected = createHmac("sha256", secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2], "hex"));
}

export interface Envelope {
  id: string;
  seq: number;
  type: string;
  customer_id: string;
  tm_create: string;
  data: Record<string, unknown>;
}

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  event: Envelope;
  /** the signature checked out against the secret the receiver knew at the time */
  signed: boolean;
  /** what the receiver answered (0: nothing) */
  answered: number;
}

/** How to answer a request: a status code, or "hang" (never answer). */
export type Answer = number | "hang";

export interface Receiver {
  url: string;
  /** every request, in arrival order */
  all: Received[];
  /** the secret each path's signatures are checked with */
  secrets: Map<string, string>;
  /** decides the answer to each request (default 200) */
  answer: (r: Received) => Answer;
  /** The requests this receiver answered 2xx on `path`, in arrival order. */
  accepted(path?: string): Received[];
  /** Resolves once `done` holds, or fails after `ms`. */
  until(done: () => boolean, ms?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const hanging = new Set<ServerResponse>();
  const r: Receiver = {
    url: "",
    all: [],
    secrets: new Map(),
    answer: () => 200,
    accepted: (path) =>
      r.all.filter((x) => x.answered >= 200 && x.answered < 300 && (!path || x.path === path)),
    async until(done, ms = 20_000, what = "the receiver to get what it waits for") {
      const end = Date.now() + ms;
      while (!done()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${r.all.length} requests)`);
        await new Promise((f) => setTimeout(f, 25));
      }
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = req.url ?? "/";
      const secret = r.secrets.get(path) ?? "";
      const sig = req.headers["x-sipext-signature"];
      const got: Received = {
        method: req.method ?? "",
        path,
        headers: req.headers,
        body,
        event: JSON.parse(body) as Envelope,
        signed: verifySignature(secret, typeof sig === "string" ? sig : undefined, body),
        answered: 0,
      };
      r.all.push(got);
      // A receiver refuses what it cannot verify.
      const answer = got.signed ? r.answer(got) : 401;
      if (answer === "hang") {
        hanging.add(res);
        return;
      }
      got.answered = answer;
      res.writeHead(answer, { "content-type": "text/plain" }).end(answer < 300 ? "ok" : "no");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

/** The seqs of `events`, checked to be consecutive; duplicates (at-least-once) collapsed. */
export function inOrderWithoutGaps(events: Envelope[]): number[] {
  const seqs: number[] = [];
  for (const e of events) {
    const last = seqs[seqs.length - 1];
    if (last === e.seq) continue;
    if (last !== undefined && e.seq !== last + 1) throw new Error(`seq ${e.seq} came after ${last}`);
    seqs.push(e.seq);
  }
  return seqs;
}
