// One extension's page (#/extensions/<id>): its addresses (the direct URI with copy and
// regenerate), its password where the API shows it, its registered devices live (unregister
// them all), an edit form (a new password shown once), its recent calls, and delete.
import { api, onEvent } from "./api.js";
import { callTable } from "./calls.js";
import { contactRows, contactsOf, loadContacts, onContacts, rememberNames } from "./contacts.js";
import { confirmAction, copyButton, field, fill, h, secretPanel, status, table, why } from "./dom.js";
import { passwordNote } from "./extensions.js";
import { provisioningCard } from "./provisioning.js";
import { directUri } from "./session.js";

function passwordCell(e) {
  if (!e.password) return h("span", { class: "muted" }, "not readable (the server does not show passwords)");
  const code = h("code", { hidden: true }, e.password);
  const toggle = h("button", { type: "button", class: "small", "aria-pressed": "false" }, "Show");
  toggle.addEventListener("click", () => {
    code.hidden = !code.hidden;
    toggle.textContent = code.hidden ? "Show" : "Hide";
    toggle.setAttribute("aria-pressed", String(!code.hidden));
  });
  return h(
    "span",
    {},
    code,
    " ",
    toggle,
    " ",
    copyButton(() => e.password, `Password of ${e.extension}`),
  );
}

function editForm(e, onSaved) {
  const name = h("input", { name: "name", maxlength: "255", value: e.name, autocomplete: "off" });
  const detail = h("input", { name: "detail", maxlength: "1024", value: e.detail, autocomplete: "off" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "edit-h" },
    h("h2", { id: "edit-h" }, "Edit"),
    field("Name", name),
    field("Detail", detail),
    field("New password", password, "empty keeps the current one; 8–80 printable characters without spaces"),
    error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save")),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const body = { name: name.value, detail: detail.value };
    if (password.value) body.password = password.value;
    try {
      const saved = await api("PUT", `/v1.0/extensions/${e.id}`, body);
      password.value = "";
      onSaved(saved, body.password !== undefined);
    } catch (err) {
      error.textContent = why(err);
    }
  });
  return form;
}

export function renderExtension(main, id) {
  const stops = [];
  let ext;
  const secretSpot = h("div");
  const addresses = h("dl", { class: "pairs" });
  const devices = h("div");
  const title = h("h1", {}, "Extension");

  function showAddresses() {
    const uri = directUri(ext.direct_hash);
    const aor = `sip:${ext.extension}@${ext.domain_name}`;
    const regenerate = h("button", { type: "button", class: "small" }, "Regenerate");
    regenerate.addEventListener("click", async () => {
      const ok = await confirmAction(
        `Give ${ext.extension} a new direct URI? ${uri} stops working at once.`,
        "Regenerate",
      );
      if (!ok) return;
      try {
        ext = await api("POST", `/v1.0/extensions/${ext.id}/direct-hash-regenerate`);
        showAddresses();
        status(`New direct URI of ${ext.extension}: ${directUri(ext.direct_hash)}`);
      } catch (err) {
        status(`The direct hash was not regenerated: ${why(err)}`, "error");
      }
    });
    fill(
      addresses,
      h("dt", {}, "Address of record"),
      h(
        "dd",
        {},
        h("code", {}, aor),
        " ",
        copyButton(() => aor, `Address of ${ext.extension}`),
      ),
      h("dt", {}, "User name"),
      h("dd", {}, h("code", {}, ext.username)),
      h("dt", {}, "SIP domain (realm)"),
      h("dd", {}, h("code", {}, ext.domain_name)),
      h("dt", {}, "Direct URI"),
      h(
        "dd",
        {},
        h("code", { "data-testid": "direct-uri" }, uri),
        " ",
        copyButton(() => directUri(ext.direct_hash), `Direct URI of ${ext.extension}`),
        " ",
        regenerate,
      ),
      h("dt", {}, "Password"),
      h("dd", {}, passwordCell(ext)),
      h("dt", {}, "Name"),
      h("dd", {}, ext.name || "—"),
      h("dt", {}, "Detail"),
      h("dd", {}, ext.detail || "—"),
    );
  }

  function showDevices() {
    const list = contactsOf(ext.id);
    const unregister = h("button", { type: "button", class: "danger" }, "Unregister all devices");
    unregister.addEventListener("click", async () => {
      if (!(await confirmAction(`Unregister every device of ${ext.extension}?`, "Unregister"))) return;
      try {
        await api("DELETE", `/v1.0/extensions/${ext.id}/contacts`);
        await loadContacts(ext.id);
      } catch (err) {
        status(`The devices were not unregistered: ${why(err)}`, "error");
      }
    });
    fill(
      devices,
      list === undefined
        ? h("p", { class: "muted" }, "Reading…")
        : table(
            `Devices registered to ${ext.extension}`,
            ["Contact", "User agent", "Source", "Transport", "Expires in"],
            contactRows(ext.id),
            "No device is registered: it shows here the moment one registers.",
          ),
      list?.length ? unregister : null,
    );
  }

  async function remove() {
    if (
      !(await confirmAction(
        `Delete extension ${ext.extension}? Its devices are unregistered at once.`,
        "Delete",
      ))
    )
      return;
    try {
      await api("DELETE", `/v1.0/extensions/${ext.id}`);
      status(`Extension ${ext.extension} deleted.`);
      location.hash = "#/extensions";
    } catch (err) {
      status(`Extension ${ext.extension} was not deleted: ${why(err)}`, "error");
    }
  }

  async function load() {
    try {
      ext = await api("GET", `/v1.0/extensions/${encodeURIComponent(id)}`);
    } catch (err) {
      fill(main, h("h1", {}, "Extension"), h("p", { class: "error", role: "alert" }, why(err)));
      return;
    }
    if (ext.tm_delete) {
      fill(main, h("h1", {}, `Extension ${ext.extension}`), h("p", {}, "This extension was deleted."));
      return;
    }
    rememberNames([ext]);
    title.textContent = `Extension ${ext.extension}`;
    const calls = callTable(`Calls of ${ext.extension}`, ext.id);
    stops.push(calls.stop);
    showAddresses();
    showDevices();
    fill(
      main,
      h("p", {}, h("a", { href: "#/extensions" }, "← All extensions")),
      title,
      secretSpot,
      h(
        "section",
        { class: "card", "aria-labelledby": "addr-h" },
        h("h2", { id: "addr-h" }, "Addresses"),
        addresses,
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "dev-h" },
        h("h2", { id: "dev-h" }, "Registered devices ", h("span", { class: "muted small" }, "(live)")),
        devices,
      ),
      provisioningCard(ext),
      editForm(ext, (saved, newPassword) => {
        ext = saved;
        showAddresses();
        status(`Extension ${ext.extension} saved.`);
        if (newPassword)
          fill(secretSpot, secretPanel(`New password of ${ext.extension}`, saved.password, passwordNote()));
      }),
      h(
        "section",
        { class: "card", "aria-labelledby": "calls-h" },
        h("h2", { id: "calls-h" }, "Recent calls"),
        calls.element,
      ),
      h(
        "section",
        { class: "card danger-zone", "aria-labelledby": "del-h" },
        h("h2", { id: "del-h" }, "Delete"),
        h("p", {}, "The extension stops working at once; its name can be used again."),
        h("button", { type: "button", class: "danger", onclick: remove }, "Delete extension"),
      ),
    );
    loadContacts(ext.id).catch((err) => status(`Devices could not be read: ${why(err)}`, "error"));
  }

  stops.push(
    onContacts((changed) => {
      if (ext && changed === ext.id) showDevices();
    }),
    onEvent("extension_", (ev) => {
      if (!ext || ev.data.id !== ext.id) return;
      if (ev.type === "extension_deleted" && location.hash.endsWith(ext.id)) {
        fill(
          main,
          h("h1", {}, `Extension ${ext.extension}`),
          h("p", { role: "alert" }, "This extension was deleted."),
        );
      } else if (ev.type === "extension_updated") {
        ext = { ...ext, ...ev.data, password: ext.password };
        showAddresses();
      }
    }),
  );
  fill(main, h("p", { class: "muted" }, "Reading the extension…"));
  load();
  return () => {
    for (const stop of stops) stop();
  };
}
