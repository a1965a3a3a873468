// Access keys (#/keys, /v1.0/accesskeys; admins only): the list, a form to create one (its token
// shown once), and revoke.
import { api, pager } from "./api.js";
import { confirmAction, field, fill, h, rowAction, secretPanel, status, table, when, why } from "./dom.js";

const DAY = 86_400;

export function renderKeys(main) {
  const list = h("div");
  const secretSpot = h("div");
  const name = h("input", { name: "name", maxlength: "255", autocomplete: "off" });
  const detail = h("input", { name: "detail", maxlength: "1024", autocomplete: "off" });
  const days = h("input", {
    name: "days",
    type: "number",
    min: "1",
    max: "3650",
    value: "365",
    inputmode: "numeric",
  });
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "key-h" },
    h("h2", { id: "key-h" }, "New access key"),
    field("Name", name),
    field("Detail", detail),
    field("Valid for (days)", days),
    error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create")),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      const key = await api("POST", "/v1.0/accesskeys", {
        name: name.value,
        detail: detail.value,
        expire: Math.round(Number(days.value) * DAY),
      });
      form.reset();
      fill(
        secretSpot,
        secretPanel(
          `Token of access key ${key.name || key.token_prefix}`,
          key.token,
          "Shown once: the server keeps only its hash. Use it as ?accesskey=… or Authorization: Bearer ….",
        ),
      );
      await load();
    } catch (err) {
      error.textContent = why(err);
    }
  });
  async function revoke(k) {
    const label = k.name || k.token_prefix;
    if (!(await confirmAction(`Revoke access key ${label}? It stops working at once.`, "Revoke"))) return;
    try {
      await api("DELETE", `/v1.0/accesskeys/${k.id}`);
      status(`Access key ${label} revoked.`);
      await load();
    } catch (err) {
      status(`The access key was not revoked: ${why(err)}`, "error");
    }
  }
  async function load() {
    try {
      const pages = pager("/v1.0/accesskeys", {}, 100);
      const keys = [];
      while (!pages.done && keys.length < 1000) keys.push(...(await pages.next()));
      const rows = keys.map((k) =>
        h(
          "tr",
          { "data-key": k.id },
          h("th", { scope: "row" }, k.name || "—"),
          h("td", {}, h("code", {}, `${k.token_prefix}…`)),
          h("td", {}, k.detail || "—"),
          h("td", {}, when(k.tm_create)),
          h("td", {}, when(k.tm_expire)),
          h(
            "td",
            {},
            rowAction("Revoke", `Revoke access key ${k.name || k.token_prefix}`, () => revoke(k), true),
          ),
        ),
      );
      fill(
        list,
        table(
          "Access keys",
          ["Name", "Token", "Detail", "Created", "Expires", ""],
          rows,
          "No access key yet.",
        ),
      );
    } catch (err) {
      const admins = err.status === 403 ? " Access keys are managed by the customer's admins." : "";
      fill(list, h("p", { class: "error", role: "alert" }, why(err) + admins));
      form.hidden = err.status === 403;
    }
  }
  fill(
    main,
    h("h1", {}, "Access keys"),
    h(
      "p",
      { class: "muted" },
      "Long-lived credentials for programs using the API, acting as an admin of this customer.",
    ),
    secretSpot,
    form,
    list,
  );
  load();
  return () => {};
}
