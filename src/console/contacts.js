// Live registration state: each extension's contacts (GET /v1.0/extensions/{id}/contacts), kept
// current by the event stream (extension_registered adds a contact, extension_unregistered removes
// it) and re-read when a contact's expiry passes (a refresh moves it and tells no event). Views
// subscribe; the live region says what changed; one timer moves every countdown on the page.
import { api, onEvent } from "./api.js";
import { announce, clock, h } from "./dom.js";

/** extension id → Map(contact uri → contact with `expireAt`, ms of this page's clock) */
const state = new Map();
/** extension id → its extension name, for the announcements */
const names = new Map();
const listeners = new Set();
const rereads = new Map();

const at = (c) => ({ ...c, expireAt: Date.now() + c.expires * 1000 });

function changed(extId) {
  for (const fn of listeners) fn(extId);
}

/** Remembers extension names (as the pages load extensions) for the announcements. */
export function rememberNames(extensions) {
  for (const e of extensions) names.set(e.id, e.extension);
}

/** The contacts known for an extension (undefined: not read yet), highest q first as the API lists them. */
export function contactsOf(extId) {
  const m = state.get(extId);
  return m ? [...m.values()] : undefined;
}

/** extension id → how many of its contact events this page has heard */
const heard = new Map();
const hear = (extId) => heard.set(extId, (heard.get(extId) ?? 0) + 1);

/**
 * Reads an extension's contacts from the API. An event heard while the answer was on its way may
 * be newer than the answer (the list was read before the phone registered, the event came first):
 * the contacts are read again rather than the event's news overwritten.
 */
export async function loadContacts(extId) {
  for (let attempt = 1; ; attempt++) {
    const before = heard.get(extId) ?? 0;
    const { result } = await api("GET", `/v1.0/extensions/${extId}/contacts`);
    if ((heard.get(extId) ?? 0) !== before && attempt < 3) continue;
    state.set(extId, new Map(result.map((c) => [c.uri, at(c)])));
    changed(extId);
    return;
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads one extension's contacts; told to slow down (429), tries again a little later. */
async function loadPolitely(extId) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await loadContacts(extId);
    } catch (err) {
      if (err?.status !== 429 || attempt === 3) return;
      await pause(1000 * attempt);
    }
  }
}

/** Reads the contacts of many extensions, a few requests at a time. */
export async function loadAll(extIds, parallel = 4) {
  const queue = extIds.filter((id) => !state.has(id));
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) await loadPolitely(id);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Forgets everything (log out: the next user may be another customer's). */
export function resetContacts() {
  state.clear();
  names.clear();
  rereads.clear();
  heard.clear();
}

/** Calls `fn(extensionId)` when an extension's contacts change; returns the unsubscribe. */
export function onContacts(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const describe = (c) => `${c.user_agent || "a device"} from ${c.source} over ${c.transport}`;
const nameOf = (id) => names.get(id) ?? "an extension";

onEvent("extension_registered", (e) => {
  const c = e.data;
  hear(c.extension_id);
  const m = state.get(c.extension_id);
  if (m) m.set(c.uri, at(c));
  else state.set(c.extension_id, new Map([[c.uri, at(c)]]));
  announce(`Extension ${nameOf(c.extension_id)} registered: ${describe(c)}`);
  changed(c.extension_id);
});

onEvent("extension_unregistered", (e) => {
  const c = e.data;
  hear(c.extension_id);
  state.get(c.extension_id)?.delete(c.uri);
  announce(`Extension ${nameOf(c.extension_id)} unregistered (${c.reason}): ${describe(c)}`);
  changed(c.extension_id);
});

onEvent("extension_deleted", (e) => {
  state.delete(e.data.id);
  changed(e.data.id);
});

/**
 * An extension's registrations as a short summary for the list: "2 devices" and each device's
 * transport, user agent, source and countdown.
 */
export function summary(extId) {
  const list = contactsOf(extId);
  if (list === undefined) return h("span", { class: "muted" }, "…");
  if (list.length === 0) return h("span", { class: "badge off" }, "not registered");
  return h(
    "div",
    { class: "devices" },
    h("span", { class: "badge on" }, list.length === 1 ? "1 device" : `${list.length} devices`),
    h(
      "ul",
      {},
      list.map((c) =>
        h(
          "li",
          { "data-contact": c.uri },
          `${c.transport} · ${c.user_agent || "?"} · ${c.source} · `,
          countdown(c),
        ),
      ),
    ),
  );
}

/** A countdown to a contact's expiry, moved every second by the page's one timer. */
export function countdown(c) {
  return h(
    "time",
    { "data-expire-at": c.expireAt, "aria-label": "expires in" },
    clock((c.expireAt - Date.now()) / 1000),
  );
}

/** Every contact's details, for an extension's own page. */
export function contactRows(extId) {
  return (contactsOf(extId) ?? []).map((c) =>
    h(
      "tr",
      { "data-contact": c.uri },
      h("td", {}, h("code", {}, c.uri)),
      h("td", {}, c.user_agent || "—"),
      h("td", {}, c.source),
      h("td", {}, c.transport),
      h("td", {}, countdown(c)),
    ),
  );
}

setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll("time[data-expire-at]")) {
    el.textContent = clock((Number(el.dataset.expireAt) - now) / 1000);
  }
  // A contact past its expiry was refreshed (no event tells of that) or is about to be swept:
  // the API says which, at most every 10 s per extension.
  for (const [extId, m] of state) {
    const late = [...m.values()].some((c) => c.expireAt < now - 1000);
    if (late && (rereads.get(extId) ?? 0) < now - 10_000) {
      rereads.set(extId, now);
      loadContacts(extId).catch(() => {});
    }
  }
}, 1000);
