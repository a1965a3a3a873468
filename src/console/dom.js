// Small DOM helpers shared by the console's pages: an element builder, time formats, the live
// region, a status line, copy buttons, confirmation dialogs and the "shown once" secret panel.

/**
 * `h("button", { class: "x", onclick: fn, "aria-label": "…" }, "text", child, [more])`: an
 * element with its attributes (on… are listeners; true/false toggle boolean attributes) and
 * children (strings become text; null, undefined and false are skipped).
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...unknown} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A seed timestamp ("2021-02-18 12:42:27.688282", UTC) as local time; "" stays "—". */
export function when(ts) {
  if (!ts) return "—";
  const d = new Date(`${ts.replace(" ", "T").slice(0, 23)}Z`);
  if (Number.isNaN(d.getTime())) return ts;
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Seconds as "9:58" or "1:02:03". */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const p = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  const rest = `${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
  return hours > 0 ? `${hours}:${rest}` : rest.replace(/^0/, "");
}

/** Tells screen readers (the page's polite live region) what changed without a reload. */
export function announce(text) {
  const log = document.getElementById("live");
  if (!log) return;
  log.append(h("p", {}, text));
  while (log.childElementCount > 5) log.firstElementChild?.remove();
}

/** The visible status line at the top of the page (role=status); kind "error" makes it stand out. */
export function status(text, kind = "info") {
  const el = document.getElementById("status");
  if (!el) return;
  el.dataset.kind = kind;
  el.dataset.at = String(Date.now());
  el.textContent = text;
}

/** The message of an error as a person reads it. */
export const why = (err) => (err instanceof Error ? err.message : String(err));

/** Puts `text` in the clipboard; falls back to a hidden textarea where the Clipboard API is off. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { class: "visually-hidden", readonly: true, "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** A button copying what `value()` gives; says "Copied" for a moment. */
export function copyButton(value, label) {
  const btn = h("button", { type: "button", class: "small", "aria-label": label }, "Copy");
  btn.addEventListener("click", async () => {
    const ok = await copyText(value());
    btn.textContent = ok ? "Copied" : "Copy failed";
    announce(ok ? `${label}: copied to the clipboard` : `${label}: copying failed, select the text instead`);
    setTimeout(() => {
      btn.textContent = "Copy";
    }, 2000);
  });
  return btn;
}

/** A small button of a table row: `text` shown, `label` its whole accessible name. */
export const rowAction = (text, label, onclick, danger = false) =>
  h(
    "button",
    { type: "button", class: danger ? "small danger" : "small", "aria-label": label, onclick },
    text,
  );

/**
 * Asks before something that cannot be undone; resolves true when confirmed. A modal <dialog>:
 * focus stays inside it, Escape cancels, focus returns to where it was.
 */
export function confirmAction(question, action = "Confirm") {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-question" },
      h("p", { id: "confirm-question" }, question),
      h(
        "form",
        { method: "dialog", class: "actions" },
        h("button", { value: "cancel", type: "submit" }, "Cancel"),
        h("button", { value: "ok", type: "submit", class: "danger" }, action),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/**
 * A secret shown once (a password, an access key's token): the value, a copy button, and a button
 * that hides it for good. Focus moves to it so that it is read out.
 */
export function secretPanel(title, value, note) {
  const panel = h(
    "section",
    { class: "secret", tabindex: "-1", "aria-label": title, "data-testid": "secret" },
    h("h3", {}, title),
    h("p", {}, note),
    h(
      "p",
      { class: "value" },
      h("code", { "data-secret": "" }, value),
      " ",
      copyButton(() => value, title),
    ),
    h("button", { type: "button", onclick: () => panel.remove() }, "Hide"),
  );
  queueMicrotask(() => panel.focus());
  return panel;
}

/**
 * A table in a scrollable region (narrow screens scroll it sideways): `columns` are header
 * labels, `rows` arrays of cells (strings or elements).
 */
export function table(caption, columns, rows, empty) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "scroll", role: "region", "aria-label": caption, tabindex: "0" },
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
          columns.map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

/** A labelled form field: `<label>` and its input (or select/textarea given as `control`). */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintEl = hint ? h("small", { id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}
