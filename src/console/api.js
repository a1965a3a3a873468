// The console's way to the API: JSON requests with the `token` cookie the login set (same origin,
// HttpOnly: page scripts never hold the credential), errors as the API words them, and one
// Server-Sent Events stream (GET /v1.0/events) whose events the pages subscribe to by type.

/** An API error: `status` (HTTP), `reason` (EXTENSION_NOT_FOUND…) and the API's message. */
export class ApiError extends Error {
  constructor(status, reason, message) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

/** Told when a request hears 401: the session is over. */
let onUnauthenticated = () => {};
export function whenLoggedOut(fn) {
  onUnauthenticated = fn;
}

/**
 * `api("GET", "/v1.0/extensions?page_size=50")`, `api("POST", "/v1.0/extensions", {…})`: the
 * answer's JSON, or an ApiError.
 */
export async function api(method, path, body) {
  const init = { method, headers: { accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "NETWORK", "the server cannot be reached");
  }
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (res.ok && json !== undefined) return json;
  const e = json?.error;
  const err = new ApiError(res.status, e?.reason ?? "HTTP", e?.message ?? `HTTP ${res.status}`);
  if (res.status === 401 && !path.startsWith("/auth/")) onUnauthenticated();
  throw err;
}

/** Builds a query string from the defined, non-empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Reads pages of a list (`{result, next_page_token}`) one at a time. */
export function pager(path, params = {}, pageSize = 50) {
  let token = "";
  let done = false;
  return {
    get done() {
      return done;
    },
    async next() {
      if (done) return [];
      const page = await api("GET", `${path}${query({ ...params, page_size: pageSize, page_token: token })}`);
      token = page.next_page_token;
      if (page.result.length < pageSize || !token) done = true;
      return page.result;
    },
  };
}

// The event stream: one EventSource for the session, started where the console's view of the
// data begins (events_seq), resumed by the browser with Last-Event-ID after a disconnection.
const WATCHED = [
  "extension_created",
  "extension_updated",
  "extension_deleted",
  "extension_registered",
  "extension_unregistered",
  "sip_ban_created",
  "sip_ban_deleted",
  "call_started",
  "call_answered",
  "call_ended",
];
const subscribers = new Set();
let source;
let streamState = "closed";
const stateListeners = new Set();

function setState(s) {
  streamState = s;
  for (const fn of stateListeners) fn(s);
}

/** Opens the stream of the customer's events after seq `after`. */
export function openEvents(after) {
  closeEvents();
  const types = "extension_*,sip_ban_*,call_*";
  source = new EventSource(`/v1.0/events${query({ after, type: types })}`, { withCredentials: true });
  setState("connecting");
  source.addEventListener("open", () => setState("live"));
  source.addEventListener("error", () => {
    // CLOSED: the server refused (the session ended); CONNECTING: the browser retries by itself.
    if (source?.readyState === EventSource.CLOSED) {
      setState("closed");
      api("GET", "/v1.0/me").catch(() => {});
    } else setState("reconnecting");
  });
  for (const type of WATCHED) {
    source.addEventListener(type, (m) => {
      let event;
      try {
        event = JSON.parse(m.data);
      } catch {
        return;
      }
      for (const s of subscribers) if (type.startsWith(s.prefix)) s.fn(event);
    });
  }
}

export function closeEvents() {
  source?.close();
  source = undefined;
  setState("closed");
}

/** Calls `fn(event)` for each event whose type starts with `prefix`; returns the unsubscribe. */
export function onEvent(prefix, fn) {
  const s = { prefix, fn };
  subscribers.add(s);
  return () => subscribers.delete(s);
}

/** Calls `fn(state)` now and on each change: connecting, live, reconnecting, closed. */
export function onStreamState(fn) {
  stateListeners.add(fn);
  fn(streamState);
  return () => stateListeners.delete(fn);
}
