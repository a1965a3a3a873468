// Webhooks (#/webhooks, CONTRACT §11): the customer's webhook address and method (PUT
// /v1.0/customer), a new signing secret shown once (POST /v1.0/customer/webhook-secret-regenerate)
// and the delivery log (GET /v1.0/webhook-deliveries), re-read every few seconds while shown.
import { api, pager } from "./api.js";
import { confirmAction, field, fill, h, secretPanel, status, table, when, why } from "./dom.js";
import { session } from "./session.js";

const REFRESH_MS = 5000;

const BADGE = { delivered: "on", failed: "", given_up: "" };

function deliveryRow(d) {
  return h(
    "tr",
    { "data-delivery": d.id },
    h("td", {}, when(d.tm_create)),
    h("td", {}, h("code", {}, d.type), h("span", { class: "muted" }, ` #${d.event_seq}`)),
    h("td", {}, h("span", { class: `badge ${BADGE[d.status] ?? ""}` }, d.status.replace("_", " "))),
    h("td", {}, d.http_status ? String(d.http_status) : "—"),
    h("td", {}, d.error || "—"),
  );
}

function settingsForm(customer, onSaved) {
  const admin = session.me?.role === "admin";
  const uri = h("input", {
    name: "webhook_uri",
    type: "url",
    value: customer.webhook_uri,
    autocomplete: "off",
  });
  const method = h(
    "select",
    { name: "webhook_method" },
    ["POST", "PUT"].map((m) =>
      h("option", { value: m, selected: (customer.webhook_method || "POST") === m }, m),
    ),
  );
  const error = h("p", { class: "error", role: "alert" });
  const save = async (body) => {
    error.textContent = "";
    try {
      onSaved(await api("PUT", "/v1.0/customer", body));
    } catch (err) {
      error.textContent = why(err);
    }
  };
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "hook-h" },
    h("h2", { id: "hook-h" }, "Webhook"),
    field("Address", uri, "an http(s) URL on a public address; each event is sent to it as JSON"),
    field("Method", method),
    admin ? null : h("p", { class: "muted" }, "Only the customer's admins change the webhook."),
    error,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary", disabled: !admin }, "Save"),
      customer.webhook_uri
        ? h(
            "button",
            {
              type: "button",
              class: "danger",
              disabled: !admin,
              onclick: async () => {
                if (await confirmAction("Remove the webhook? Events are no longer delivered.", "Remove"))
                  save({ webhook_uri: "", webhook_method: "" });
              },
            },
            "Remove webhook",
          )
        : null,
    ),
  );
  for (const el of [uri, method]) el.disabled = !admin;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    save({ webhook_uri: uri.value.trim(), webhook_method: method.value });
  });
  return form;
}

function secretSection(secretSpot) {
  const admin = session.me?.role === "admin";
  const draw = h("button", { type: "button", disabled: !admin }, "Draw a new secret");
  draw.addEventListener("click", async () => {
    const ok = await confirmAction(
      "Draw a new signing secret? The current one stops signing at once.",
      "Draw",
    );
    if (!ok) return;
    try {
      const { webhook_secret } = await api("POST", "/v1.0/customer/webhook-secret-regenerate");
      fill(
        secretSpot,
        secretPanel(
          "Webhook signing secret",
          webhook_secret,
          "Shown once: put it in the receiver now. The server keeps it sealed and never shows it again.",
        ),
      );
    } catch (err) {
      status(`No new secret: ${why(err)}`, "error");
    }
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "secret-h" },
    h("h2", { id: "secret-h" }, "Signing secret"),
    h(
      "p",
      {},
      "Each delivery carries ",
      h("code", {}, 'X-Sipext-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>'),
      " and ",
      h("code", {}, "X-Sipext-Event-Id"),
      ". Failed deliveries are retried, in order, for 24 hours.",
    ),
    draw,
  );
}

export function renderWebhooks(main) {
  let timer;
  let stopped = false;
  const secretSpot = h("div");
  const log = h("div");
  const more = h("button", { type: "button", hidden: true }, "Load more deliveries");
  let pages;
  let shown = [];
  async function readLog(reset) {
    try {
      if (reset) {
        pages = pager("/v1.0/webhook-deliveries", {}, 50);
        shown = [];
      }
      shown.push(...(await pages.next()));
      fill(
        log,
        table(
          "Delivery attempts, newest first",
          ["Time", "Event", "Status", "HTTP", "Error"],
          shown.map(deliveryRow),
          "No delivery attempt yet.",
        ),
      );
      more.hidden = pages.done;
    } catch (err) {
      fill(log, h("p", { class: "error", role: "alert" }, why(err)));
    }
  }
  more.addEventListener("click", () => readLog(false));
  async function load() {
    let customer;
    try {
      customer = await api("GET", "/v1.0/customer");
    } catch (err) {
      fill(main, h("h1", {}, "Webhooks"), h("p", { class: "error", role: "alert" }, why(err)));
      return;
    }
    if (stopped) return;
    const show = (c) => {
      fill(
        main,
        h("h1", {}, "Webhooks"),
        h("p", { class: "muted" }, "sipext sends each of the customer's events to one address, signed."),
        settingsForm(c, (saved) => {
          status(saved.webhook_uri ? `Webhook saved: ${saved.webhook_uri}` : "Webhook removed.");
          show(saved);
        }),
        secretSpot,
        secretSection(secretSpot),
        h(
          "section",
          { class: "card", "aria-labelledby": "log-h" },
          h("h2", { id: "log-h" }, "Deliveries ", h("span", { class: "muted small" }, "(re-read every 5 s)")),
          log,
          more,
        ),
      );
    };
    show(customer);
    await readLog(true);
    if (stopped) return;
    // The first page is re-read while the page is open, unless more pages were loaded.
    timer = setInterval(() => {
      if (shown.length <= 50) readLog(true);
    }, REFRESH_MS);
  }
  fill(main, h("h1", {}, "Webhooks"), h("p", { class: "muted" }, "Reading…"));
  load();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
