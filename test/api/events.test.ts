// The event stream (CONTRACT §11): GET /v1.0/events as JSON pages (after, page_size, type with
// prefixes) and as Server-Sent Events read by a real client over node:http — replay, live events,
// a reconnect with Last-Event-ID that misses nothing, a reader that stops reading cut off while
// another goes on — tenant scope, roles, and 400s naming the bad parameter.
import { type IncomingMessage, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatMicros } from "../../src/util/time.js";
import {
  type Client,
  client,
  DATABASES,
  type Harness,
  startHarness,
  stopHarness,
} from "../helpers/harness.js";
import { type Envelope, inOrderWithoutGaps } from "../helpers/webhook-receiver.js";

interface EventPage {
  result: Envelope[];
  next_page_token: string;
}

interface SseFrame {
  id: string;
  event: string;
  data: Envelope;
}

/** A real SSE reader: one GET with Accept: text/event-stream, frames parsed as they arrive. */
interface SseReader {
  status: number;
  /** the body of a refused request (JSON error) */
  refusal: string;
  frames: SseFrame[];
  /** set when the server ended the stream */
  ended: boolean;
  res: IncomingMessage;
  close(): void;
  /** Resolves once `done` holds, or fails after `ms`. */
  until(done: (frames: SseFrame[]) => boolean, ms?: number): Promise<void>;
}

function openSse(
  url: string,
  token: string,
  query = "",
  headers: Record<string, string> = {},
): Promise<SseReader> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1.0/events${query}`, {
      headers: { accept: "text/event-stream", authorization: `Bearer ${token}`, ...headers },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const reader: SseReader = {
        status: res.statusCode ?? 0,
        refusal: "",
        frames: [],
        ended: false,
        res,
        close: () => req.destroy(),
        async until(done, ms = 20_000) {
          const end = Date.now() + ms;
          while (!done(reader.frames)) {
            if (Date.now() > end) throw new Error(`timed out with ${reader.frames.length} frames`);
            if (reader.ended) throw new Error(`the stream ended with ${reader.frames.length} frames`);
            await new Promise((f) => setTimeout(f, 20));
          }
        },
      };
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (reader.status !== 200) {
          reader.refusal += chunk;
          return;
        }
        text += chunk;
        let cut = text.indexOf("\n\n");
        while (cut >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          cut = text.indexOf("\n\n");
          const fields = new Map<string, string>();
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue; // a comment (the greeting, keep-alives)
            const colon = line.indexOf(":");
            fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ""));
          }
          if (fields.has("data")) {
            reader.frames.push({
              id: fields.get("id") ?? "",
              event: fields.get("event") ?? "",
              data: JSON.parse(fields.get("data") ?? "") as Envelope,
            });
          }
        }
      });
      const ended = () => {
        reader.ended = true;
      };
      res.on("end", ended);
      res.on("close", ended);
      res.on("error", ended);
      resolve(reader);
    });
    req.end();
  });
}

async function loginAs(
  h: Harness,
  name: string,
  make: (password: string) => Promise<unknown>,
): Promise<Client> {
  const password = h.secret(`${name}-Pa55word-1`);
  await make(password);
  const login = await client(h.url).post<{ token: string }>("/auth/login", { username: name, password });
  expect(login.status).toBe(200);
  return client(h.url, h.secret(login.body.token));
}

describe.each(DATABASES)("events on %s", (kind) => {
  let h: Harness;
  let api: Client;
  let n = 0;
  const create = async (as?: Client) => {
    const res = await (as ?? api).post<{ id: string }>("/v1.0/extensions", {
      extension: `ev${++n}`,
      password: "Ev-pass-1234",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.id;
  };
  const page = (query: string, as?: Client) => (as ?? api).get<EventPage>(`/v1.0/events${query}`);

  beforeAll(async () => {
    h = await startHarness(kind);
    api = client(h.url, h.admin.token);
    // 4 created, 1 updated, 1 deleted: seq 1-6.
    const ids = [await create(), await create(), await create(), await create()];
    expect((await api.put(`/v1.0/extensions/${ids[0]}`, { name: "renamed" })).status).toBe(200);
    expect((await api.del(`/v1.0/extensions/${ids[1]}`)).status).toBe(200);
  });
  afterAll(async () => {
    await stopHarness(h);
  });

  describe("JSON pages", () => {
    it("lists the customer's events oldest first, numbered from 1, with the envelope's fields", async () => {
      const res = await page("");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const types = res.body.result.map((e) => e.type);
      expect(types.slice(0, 6)).toEqual([
        "extension_created",
        "extension_created",
        "extension_created",
        "extension_created",
        "extension_updated",
        "extension_deleted",
      ]);
      expect(res.body.result.slice(0, 6).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      const [first] = res.body.result;
      expect(Object.keys(first ?? {}).sort()).toEqual([
        "customer_id",
        "data",
        "id",
        "seq",
        "tm_create",
        "type",
      ]);
      expect(first).toMatchObject({ customer_id: h.admin.customerId, data: { password: "" } });
      expect(first?.tm_create).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
      expect(res.body.next_page_token).toBe(String(res.body.result.at(-1)?.seq));
    });

    it("pages with page_size and after, and an empty page keeps the token where it was", async () => {
      const seen: number[] = [];
      let after = "0";
      for (let i = 0; i < 10; i++) {
        const res = await page(`?page_size=2&after=${after}`);
        expect(res.status).toBe(200);
        expect(res.body.result.length).toBeLessThanOrEqual(2);
        if (res.body.result.length === 0) {
          expect(res.body.next_page_token).toBe(after);
          break;
        }
        seen.push(...res.body.result.map((e) => e.seq));
        after = res.body.next_page_token;
      }
      expect(seen.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(inOrderWithoutGaps((await page("")).body.result)).toEqual(seen);
    });

    it("filters by type: exact names, a comma list, and a prefix ending with *", async () => {
      const deleted = await page("?type=extension_deleted");
      expect(deleted.body.result.map((e) => e.seq)).toEqual([6]);
      const two = await page("?type=extension_updated,extension_deleted");
      expect(two.body.result.map((e) => e.type)).toEqual(["extension_updated", "extension_deleted"]);
      const prefix = await page("?type=extension_*&after=3");
      expect(prefix.body.result.map((e) => e.seq).slice(0, 3)).toEqual([4, 5, 6]);
      expect((await page("?type=sip_ban_*")).body.result).toEqual([]);
    });

    it.each([
      ["?after=abc", "INVALID_AFTER", "after:"],
      ["?after=-1", "INVALID_AFTER", "after:"],
      ["?after=1.5", "INVALID_AFTER", "after:"],
      ["?type=extension_exploded", "INVALID_TYPE", "type:"],
      ["?type=nothing_*", "INVALID_TYPE", "type:"],
      ["?type=extension_created,bogus", "INVALID_TYPE", "type:"],
      ["?page_size=0", "INVALID_PAGE_SIZE", "page_size:"],
      ["?page_size=ten", "INVALID_PAGE_SIZE", "page_size:"],
    ])("answers %s with 400 naming the parameter", async (query, reason, field) => {
      const res = await api.get<{ error: { reason: string; message: string } }>(`/v1.0/events${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.reason).toBe(reason);
      expect(res.body.error.message.startsWith(field)).toBe(true);
    });

    it("needs credentials, and the admin or manager role", async () => {
      expect((await client(h.url).get("/v1.0/events")).status).toBe(401);
      const agent = await loginAs(h, `ev-agent-${kind}`, (password) =>
        h.server.core.services.tenants.createUser(h.admin.customerId, {
          username: `ev-agent-${kind}`,
          password,
          role: "agent",
        }),
      );
      expect((await agent.get("/v1.0/events")).status).toBe(403);
    });

    it("shows a customer only its own events, numbered from its own 1", async () => {
      const other = await loginAs(h, `ev-other-${kind}`, (password) =>
        h.server.core.services.tenants.createTenant({
          name: "ev-other",
          admin: { username: `ev-other-${kind}`, password },
        }),
      );
      expect((await page("", other)).body.result).toEqual([]);
      const theirs = await create(other);
      const res = await page("", other);
      expect(res.body.result.map((e) => [e.seq, e.data.id])).toEqual([[1, theirs]]);
      expect((await page("")).body.result.some((e) => e.data.id === theirs)).toBe(false);
      const stream = await openSse(h.url, h.admin.token, "?after=0");
      await stream.until((f) => f.length >= 6);
      await create(other);
      const mine = await create();
      await stream.until((f) => f.some((x) => x.data.data.id === mine));
      stream.close();
      expect(stream.frames.every((f) => f.data.customer_id === h.admin.customerId)).toBe(true);
    });
  });

  describe("Server-Sent Events", () => {
    it("replays what is kept, then sends new events as they happen; the SSE id is the seq", async () => {
      const s = await openSse(h.url, h.admin.token);
      expect(s.status).toBe(200);
      expect(s.res.headers["content-type"]).toMatch(/^text\/event-stream/);
      await s.until((f) => f.length >= 6);
      const id = await create();
      await s.until((f) => f.some((x) => x.data.data.id === id));
      s.close();
      for (const f of s.frames) {
        expect(f.id).toBe(String(f.data.seq));
        expect(f.event).toBe(f.data.type);
      }
      const all = (await page("")).body.result;
      expect(inOrderWithoutGaps(s.frames.map((f) => f.data))).toEqual(all.map((e) => e.seq));
    });

    it("resumes after a disconnect with Last-Event-ID, without a gap or a repeat", async () => {
      const first = await openSse(h.url, h.admin.token, "?after=2");
      await first.until((f) => f.length >= 3);
      first.close();
      const last = first.frames.at(-1)?.id as string;
      // Events made while nobody listens.
      const missed = [await create(), await create(), await create()];
      const second = await openSse(h.url, h.admin.token, "", { "last-event-id": last });
      await second.until((f) => missed.every((id) => f.some((x) => x.data.data.id === id)));
      second.close();
      expect(second.frames[0]?.data.seq).toBe(Number(last) + 1);
      const seqs = [...first.frames, ...second.frames].map((f) => f.data.seq);
      expect(inOrderWithoutGaps([...first.frames, ...second.frames].map((f) => f.data))).toEqual(seqs);
      expect(seqs[0]).toBe(3);
    });

    it("filters a stream by type", async () => {
      const s = await openSse(h.url, h.admin.token, "?type=extension_deleted,extension_upd*");
      const id = await create();
      expect((await api.del(`/v1.0/extensions/${id}`)).status).toBe(200);
      await s.until((f) => f.some((x) => x.data.data.id === id));
      s.close();
      expect(new Set(s.frames.map((f) => f.event))).toEqual(
        new Set(["extension_updated", "extension_deleted"]),
      );
    });

    it("answers a bad Last-Event-ID or type with 400 naming it, not a stream", async () => {
      const badId = await openSse(h.url, h.admin.token, "", { "last-event-id": "abc" });
      expect(badId.status).toBe(400);
      expect(JSON.parse(badId.refusal).error.message).toMatch(/^Last-Event-ID: /);
      const badType = await openSse(h.url, h.admin.token, "?type=nope");
      expect(badType.status).toBe(400);
      expect(JSON.parse(badType.refusal).error.reason).toBe("INVALID_TYPE");
      expect((await openSse(h.url, "wrong-token")).status).toBe(401);
    });

    it("cuts off a reader that stops reading, while another reader keeps receiving", async () => {
      const latest = (await page("?page_size=100")).body.result.at(-1)?.seq ?? 0;
      const slow = await openSse(h.url, h.admin.token, `?after=${latest}`);
      const fast = await openSse(h.url, h.admin.token, `?after=${latest}`);
      slow.res.pause();
      try {
        // Large events (64 KiB each) appended through the server's own outbox, as a change's
        // transaction appends them: a hundred fill the kernel's socket buffers (a few MB on loopback)
        // and the server's 256 KiB allowance faster than thousands of API calls would.
        const count = 100;
        const blob = "x".repeat(64 * 1024);
        for (let i = 0; i < count; i += 10) {
          const drafts = Array.from({ length: 10 }, (_, j) => ({
            type: "extension_updated",
            data: { id: `big-${i + j}`, blob },
            tmCreate: formatMicros(Date.now() * 1000),
          }));
          await h.server.core.stores.outbox.write(h.admin.customerId, drafts, async () => true);
        }
        await fast.until((f) => f.length >= count, 60_000);
        // Past 256 KiB not taken, the server waits 5 s for the reader, then gives up on it: reading
        // what reached it, the reader finds the stream ended early.
        await new Promise((f) => setTimeout(f, 6_000));
        slow.res.resume();
        const end = Date.now() + 20_000;
        while (!slow.ended && Date.now() < end) await new Promise((f) => setTimeout(f, 50));
        expect(slow.ended).toBe(true);
        expect(slow.frames.length).toBeLessThan(count);
        expect(inOrderWithoutGaps(slow.frames.map((f) => f.data))[0]).toBe(latest + 1);
        // The other reader is still served.
        const after = await create();
        await fast.until((f) => f.some((x) => x.data.data.id === after));
        fast.close();
        expect(inOrderWithoutGaps(fast.frames.map((f) => f.data))).toHaveLength(count + 1);
      } finally {
        slow.close();
        fast.close();
      }
    }, 120_000);
  });
});
