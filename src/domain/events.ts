// Reading a customer's events (CONTRACT §11): pages after a seq, filtered by type, and the
// notifications a stream waits on. Tenant-scoped: a principal only ever reads its customer's.
import { EVENT_TYPES, type Event, type EventPage, type EventQuery } from "../contract/event.js";
import type { EventNotifier, EventRow, EventStore } from "../store/events.js";
import { invalidArgument } from "./errors.js";
import { parsePage } from "./paging.js";
import { type Principal, requireRole } from "./principal.js";

/** What a reader asked for, checked. */
export interface EventFilter {
  after: number;
  limit: number;
  types: string[];
}

const KNOWN: readonly string[] = EVENT_TYPES;

export const eventView = (r: EventRow): Event => ({
  id: r.id,
  seq: Number(r.seq),
  type: r.type,
  customer_id: r.customer_id,
  tm_create: r.tm_create,
  data: JSON.parse(r.data) as unknown,
});

/** `after` (or Last-Event-ID), `page_size` and `type` read and checked (400 naming the field). */
export function eventFilter(q: EventQuery, lastEventId?: string): EventFilter {
  const afterText = lastEventId ?? q.after ?? "0";
  const field = lastEventId !== undefined ? "Last-Event-ID" : "after";
  if (!/^\d{1,15}$/.test(afterText))
    throw invalidArgument(field, `must be an event seq (a whole number), got "${afterText.slice(0, 32)}"`);
  const types = (q.type ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  for (const t of types) {
    const known = t.endsWith("*") ? KNOWN.some((k) => k.startsWith(t.slice(0, -1))) : KNOWN.includes(t);
    if (!known) throw invalidArgument("type", `names no event type: "${t.slice(0, 64)}"`);
  }
  return { after: Number(afterText), limit: parsePage(q.page_size, undefined).limit, types };
}

export function eventService(deps: { events: EventStore; notifier: EventNotifier }) {
  const { events, notifier } = deps;
  const read = (customerId: string, f: EventFilter) =>
    events.listAfter(customerId, f).then((rows) => rows.map(eventView));
  return {
    /** A JSON page: the events after `after`, oldest first. */
    async page(p: Principal, f: EventFilter): Promise<EventPage> {
      requireRole(p, ["admin", "manager"]);
      const result = await read(p.customerId, f);
      const last = result[result.length - 1];
      // An empty page keeps the reader where it was: it asks again with the same `after`.
      return { result, next_page_token: String(last ? last.seq : f.after) };
    },
    /** The customer's newest seq: a reader that wants only what happens from now on starts there. */
    async latest(p: Principal): Promise<number> {
      requireRole(p, ["admin", "manager"]);
      return events.latestSeq(p.customerId);
    },
    /** For a stream: the principal may read; then pages of its customer's events, and news of more. */
    open(p: Principal) {
      requireRole(p, ["admin", "manager"]);
      return {
        read: (f: EventFilter) => read(p.customerId, f),
        subscribe: (fn: () => void) => notifier.subscribe(p.customerId, fn),
      };
    },
  };
}

export type EventService = ReturnType<typeof eventService>;
