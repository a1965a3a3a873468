// The extensions list (#/extensions): phone settings, a filter over the loaded pages, more pages on
// demand, a form to create one (its password shown once), each row's live registration state.
import { api, onEvent, pager } from "./api.js";
import { loadAll, onContacts, rememberNames, summary } from "./contacts.js";
import { copyButton, field, fill, h, secretPanel, status, why } from "./dom.js";
import { directUri, session, sipWebSocketUrl } from "./session.js";

const PAGE_SIZE = 50;

/** The note under a password shown after it was set. */
export const passwordNote = () =>
  session.config?.show_passwords
    ? "Copy it into the phone now. It stays readable on the extension's page while the server shows passwords (SIPEXT_SHOW_PASSWORDS=true)."
    : "Shown once: copy it into the phone now. The server keeps no readable copy.";

/** Phone settings of this customer: what a phone or a browser needs besides its extension. */
export function phoneSettings() {
  return h(
    "section",
    { class: "card", "aria-labelledby": "settings-h" },
    h("h2", { id: "settings-h" }, "Phone settings"),
    h(
      "dl",
      { class: "pairs" },
      h("dt", {}, "SIP domain (realm)"),
      h(
        "dd",
        {},
        h("code", {}, session.domain),
        " ",
        copyButton(() => session.domain, "SIP domain"),
      ),
      h("dt", {}, "SIP over WebSocket"),
      h("dd", {}, h("code", {}, sipWebSocketUrl())),
      h("dt", {}, "Direct addresses"),
      h("dd", {}, h("code", {}, directUri("<hash>"))),
    ),
  );
}

function directCell(e) {
  const uri = directUri(e.direct_hash);
  return h(
    "td",
    {},
    h("code", { class: "uri" }, uri),
    " ",
    copyButton(() => uri, `Direct URI of ${e.extension}`),
  );
}

function row(e) {
  return h(
    "tr",
    { "data-ext": e.id },
    h("th", { scope: "row" }, h("a", { href: `#/extensions/${e.id}` }, e.extension)),
    h("td", {}, e.name || h("span", { class: "muted" }, "—")),
    h("td", { "data-reg": "" }, summary(e.id)),
    directCell(e),
  );
}

function createForm(onCreated) {
  const ext = h("input", { name: "extension", required: true, maxlength: "40", autocomplete: "off" });
  const name = h("input", { name: "name", maxlength: "255", autocomplete: "off" });
  const detail = h("input", { name: "detail", maxlength: "1024", autocomplete: "off" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "create-h", hidden: true },
    h("h2", { id: "create-h" }, "New extension"),
    field("Extension", ext, "1–40 characters from A–Z a–z 0–9 . _ - + ~ ! (the SIP user name)"),
    field("Name", name),
    field("Detail", detail),
    field("Password", password, "8–80 printable characters without spaces; empty: a strong one is generated"),
    error,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Create"),
      h("button", { type: "button", onclick: () => (form.hidden = true) }, "Cancel"),
    ),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const body = { extension: ext.value.trim(), name: name.value, detail: detail.value };
    if (password.value) body.password = password.value;
    try {
      const created = await api("POST", "/v1.0/extensions", body);
      form.reset();
      form.hidden = true;
      onCreated(created);
    } catch (err) {
      error.textContent = why(err);
      ext.focus();
    }
  });
  return { form, focus: () => ext.focus() };
}

export function renderExtensions(main) {
  const loaded = [];
  const pages = pager("/v1.0/extensions", {}, PAGE_SIZE);
  const tbody = h("tbody");
  const secretSpot = h("div");
  const filter = h("input", {
    type: "search",
    autocomplete: "off",
    placeholder: "extension, name or detail",
  });
  const counter = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const tableWrap = h(
    "div",
    { class: "scroll", role: "region", "aria-label": "Extensions", tabindex: "0" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, "Extensions, newest first"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Extension", "Name", "Registration", "Direct URI"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      tbody,
    ),
  );
  const { form, focus } = createForm((created) => {
    // Its extension_created event may have come first and shown it already.
    if (!loaded.some((x) => x.id === created.id)) {
      loaded.unshift(created);
      rememberNames([created]);
      tbody.prepend(row(created));
    }
    fill(
      secretSpot,
      secretPanel(`Password of extension ${created.extension}`, created.password, passwordNote()),
    );
    status(`Extension ${created.extension} created.`);
    loadAll([created.id]);
    applyFilter();
  });
  const matches = (e, q) => [e.extension, e.name, e.detail].some((v) => v.toLowerCase().includes(q));
  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const tr of tbody.children) {
      const e = loaded.find((x) => x.id === tr.dataset.ext);
      tr.hidden = !!q && !(e && matches(e, q));
      if (!tr.hidden) shown++;
    }
    const total = `${loaded.length} extension${loaded.length === 1 ? "" : "s"} loaded`;
    counter.textContent = q ? `${shown} of ${total} match` : total;
    tableWrap.hidden = loaded.length === 0;
  }
  async function loadMore() {
    more.disabled = true;
    try {
      const page = await pages.next();
      loaded.push(...page);
      rememberNames(page);
      tbody.append(...page.map(row));
      applyFilter();
      loadAll(page.map((e) => e.id));
    } catch (err) {
      status(`Extensions could not be read: ${why(err)}`, "error");
    }
    more.disabled = false;
    more.hidden = pages.done;
  }
  filter.addEventListener("input", applyFilter);
  more.addEventListener("click", loadMore);
  const replaceRow = (id, e) => {
    const tr = tbody.querySelector(`tr[data-ext="${CSS.escape(id)}"]`);
    if (tr && e) tr.replaceWith(row(e));
    else tr?.remove();
  };
  const stops = [
    onContacts((id) => {
      const cell = tbody.querySelector(`tr[data-ext="${CSS.escape(id)}"] td[data-reg]`);
      if (cell) fill(cell, summary(id));
    }),
    onEvent("extension_created", (ev) => {
      // Created elsewhere (the API, another console): it shows at the top, as the newest.
      if (loaded.some((x) => x.id === ev.data.id)) return;
      loaded.unshift(ev.data);
      rememberNames([ev.data]);
      tbody.prepend(row(ev.data));
      loadAll([ev.data.id]);
      applyFilter();
    }),
    onEvent("extension_updated", (ev) => {
      const i = loaded.findIndex((x) => x.id === ev.data.id);
      if (i >= 0) {
        loaded[i] = ev.data;
        replaceRow(ev.data.id, ev.data);
      }
    }),
    onEvent("extension_deleted", (ev) => {
      const i = loaded.findIndex((x) => x.id === ev.data.id);
      if (i >= 0) loaded.splice(i, 1);
      replaceRow(ev.data.id, undefined);
      applyFilter();
    }),
  ];
  fill(
    main,
    h(
      "div",
      { class: "head" },
      h("h1", {}, "Extensions"),
      h(
        "button",
        {
          type: "button",
          class: "primary",
          onclick: () => {
            form.hidden = false;
            focus();
          },
        },
        "New extension",
      ),
    ),
    phoneSettings(),
    form,
    secretSpot,
    h("div", { class: "toolbar" }, field("Filter the loaded extensions", filter), counter),
    tableWrap,
    more,
  );
  loadMore();
  return () => {
    for (const stop of stops) stop();
  };
}
