// Recent calls (#/calls, GET /v1.0/calls): newest first, more pages on demand, rows added and
// updated as call_started / call_answered / call_ended arrive.
import { onEvent, pager } from "./api.js";
import { fill, h, status, when, why } from "./dom.js";

const COLUMNS = ["Started", "From", "To", "Status", "SIP", "Duration"];

function duration(c) {
  if (!c.duration_ms) return "—";
  const s = Math.round(c.duration_ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** One call as a table row. */
export function callRow(c) {
  const label = c.status === "ended" ? c.result || "ended" : c.status;
  return h(
    "tr",
    { "data-call": c.id },
    h("td", {}, when(c.tm_create)),
    h("td", {}, h("code", {}, c.from_uri)),
    h("td", {}, h("code", {}, c.to_uri), c.direct ? h("span", { class: "badge" }, "direct") : null),
    h(
      "td",
      {},
      h("span", { class: `badge ${c.result === "answered" || c.status === "answered" ? "on" : ""}` }, label),
    ),
    h("td", {}, c.sip_code ? String(c.sip_code) : "—"),
    h("td", {}, duration(c)),
  );
}

/**
 * A live table of calls (all of the customer's, or one extension's): its element, and a function
 * that stops listening to the stream.
 */
export function callTable(caption, extensionId) {
  const pages = pager("/v1.0/calls", { extension_id: extensionId }, 25);
  const tbody = h("tbody");
  const empty = h("p", { class: "empty" }, "No calls yet.");
  const more = h("button", { type: "button", hidden: true }, "Load more calls");
  const wrap = h(
    "div",
    { class: "scroll", role: "region", "aria-label": caption, tabindex: "0", hidden: true },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          COLUMNS.map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      tbody,
    ),
  );
  const shown = () => {
    wrap.hidden = tbody.childElementCount === 0;
    empty.hidden = !wrap.hidden;
  };
  async function loadMore() {
    more.disabled = true;
    try {
      tbody.append(...(await pages.next()).map(callRow));
    } catch (err) {
      status(`Calls could not be read: ${why(err)}`, "error");
    }
    more.disabled = false;
    more.hidden = pages.done;
    shown();
  }
  more.addEventListener("click", loadMore);
  const stop = onEvent("call_", (ev) => {
    const c = ev.data;
    if (extensionId && c.extension_id !== extensionId && c.caller_extension_id !== extensionId) return;
    const tr = tbody.querySelector(`tr[data-call="${CSS.escape(c.id)}"]`);
    if (tr) tr.replaceWith(callRow(c));
    else tbody.prepend(callRow(c));
    shown();
  });
  loadMore();
  return { element: h("div", {}, wrap, empty, more), stop };
}

export function renderCalls(main) {
  const calls = callTable("Recent calls, newest first");
  fill(
    main,
    h("h1", {}, "Recent calls"),
    h(
      "p",
      { class: "muted" },
      "Calls sipext routed to the customer's extensions; new calls appear as they start.",
    ),
    calls.element,
  );
  return calls.stop;
}
