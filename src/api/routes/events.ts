// GET /v1.0/events (CONTRACT §11): Server-Sent Events with `Accept: text/event-stream` — the
// SSE id is the seq, Last-Event-ID or ?after= resumes with nothing missed, ?type= filters — and a
// JSON page otherwise. A stream replays what the reader missed, then sends each new event as its
// transaction commits on this node, and looks for other nodes' every POLL_MS. Past MAX_BUFFERED
// bytes not yet taken by the reader, the stream waits for them to drain; a reader that does not
// take them within SLOW_READER_MS is disconnected: it never holds the server or the other readers
// back (nor makes it buffer more), and resumes from its last id when it comes back. A burst
// bigger than the allowance (a page of large events) does not cut off a reader that reads.
import type { ServerResponse } from "node:http";
import { type Event, EventPage, EventQuery } from "../../contract/event.js";
import { type EventFilter, eventFilter } from "../../domain/events.js";
import { principalOf } from "../plugins/auth.js";
import { route } from "../schemas.js";
import type { Routes } from "../services.js";

const POLL_MS = 2_000;
const HEARTBEAT_MS = 15_000;
const MAX_BUFFERED = 256 * 1024;
const SLOW_READER_MS = 5_000;
const PAGE = 100;

const frame = (e: Event) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

export const eventRoutes: Routes = async (app, { services }) => {
  app.get(
    "/events",
    route(["events"], EventPage, {
      summary: "The customer's events: a JSON page, or Server-Sent Events with Accept: text/event-stream",
      querystring: EventQuery,
    }),
    async (req, reply) => {
      const p = principalOf(req);
      const wantsStream = (req.headers.accept ?? "").includes("text/event-stream");
      const lastId = req.headers["last-event-id"];
      const filter = eventFilter(req.query, wantsStream && typeof lastId === "string" ? lastId : undefined);
      if (!wantsStream) return services.events.page(p, filter);
      const feed = services.events.open(p);
      reply.hijack();
      stream(reply.raw, filter, feed);
      return reply;
    },
  );
};

interface Feed {
  read(f: EventFilter): Promise<Event[]>;
  subscribe(fn: () => void): () => void;
}

function stream(res: ServerResponse, filter: EventFilter, feed: Feed): void {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.write(": sipext events\n\n");
  let after = filter.after;
  let busy = false;
  let again = false;
  let closed = false;
  // Reads until caught up; a notification during a read makes it read once more.
  const pump = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        for (;;) {
          const page = await feed.read({ ...filter, after, limit: PAGE });
          if (closed) return;
          for (const e of page) {
            res.write(frame(e));
            after = e.seq;
            if (res.writableLength > MAX_BUFFERED && !(await drained(res))) return res.destroy();
            if (closed) return;
          }
          if (page.length < PAGE) break;
        }
      } while (again && !closed);
    } catch {
      res.destroy();
    } finally {
      busy = false;
    }
  };
  const unsubscribe = feed.subscribe(() => void pump());
  const poll = setInterval(() => void pump(), POLL_MS);
  const heartbeat = setInterval(() => {
    // Past the allowance with no read waiting on it (that read has its own deadline): a stuck reader.
    if (res.writableLength <= MAX_BUFFERED) res.write(": keep-alive\n\n");
    else if (!busy) res.destroy();
  }, HEARTBEAT_MS);
  res.on("close", () => {
    closed = true;
    unsubscribe();
    clearInterval(poll);
    clearInterval(heartbeat);
  });
  void pump();
}

/** Resolves true once the response's buffer has drained, false after SLOW_READER_MS or a close. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), SLOW_READER_MS);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}
