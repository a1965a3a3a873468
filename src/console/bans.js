// SIP bans (#/bans, GET /v1.0/sip-bans): sources banned after failed digest answers to this
// customer's extensions, each with "Lift"; the list follows sip_ban_created / sip_ban_deleted.
import { api, onEvent } from "./api.js";
import { confirmAction, fill, h, rowAction, status, table, when, why } from "./dom.js";

export function renderBans(main) {
  const list = h("div");
  async function lift(b) {
    if (
      !(await confirmAction(`Lift the ban of ${b.source}? It may register and call again at once.`, "Lift"))
    )
      return;
    try {
      await api("DELETE", `/v1.0/sip-bans/${b.id}`);
      status(`The ban of ${b.source} was lifted.`);
      await load();
    } catch (err) {
      status(`The ban was not lifted: ${why(err)}`, "error");
    }
  }
  async function load() {
    try {
      const { result } = await api("GET", "/v1.0/sip-bans");
      const rows = result.map((b) =>
        h(
          "tr",
          { "data-ban": b.id },
          h("th", { scope: "row" }, h("code", {}, b.source)),
          h("td", {}, String(b.failures)),
          h("td", {}, b.extension_id ? h("a", { href: `#/extensions/${b.extension_id}` }, "extension") : "—"),
          h("td", {}, when(b.tm_create)),
          h("td", {}, when(b.tm_expire)),
          h(
            "td",
            {},
            rowAction("Lift", `Lift the ban of ${b.source}`, () => lift(b)),
          ),
        ),
      );
      fill(
        list,
        table(
          "Banned sources",
          ["Source", "Failures", "Targeted", "Banned at", "Until", ""],
          rows,
          "No source is banned.",
        ),
      );
    } catch (err) {
      fill(list, h("p", { class: "error", role: "alert" }, why(err)));
    }
  }
  fill(
    main,
    h("h1", {}, "SIP bans"),
    h(
      "p",
      { class: "muted" },
      "A source that sends too many wrong passwords to this customer's extensions is banned for a while: its SIP traffic is dropped. Devices registered from other addresses keep working.",
    ),
    list,
  );
  load();
  return onEvent("sip_ban_", () => load());
}
