// An extension's provisioning link (CONTRACT §17): "Provisioning link" issues one (10 minutes) and
// shows its QR code — which a Linphone app scans ("Fetch remote configuration") — and its URL to
// copy, with a button that revokes it at once. The QR code is the server's SVG, shown as an image
// (a data: URL), never inserted as markup.
import { api } from "./api.js";
import { copyButton, fill, h, status, when, why } from "./dom.js";

export function provisioningCard(ext) {
  const spot = h("div", { "data-testid": "provisioning" });
  const issue = h("button", { type: "button" }, "Provisioning link");

  function show(link) {
    const img = h("img", {
      src: `data:image/svg+xml;base64,${btoa(link.qr_svg)}`,
      alt: `QR code of the provisioning link of ${ext.extension}`,
      width: "220",
      height: "220",
      "data-testid": "provisioning-qr",
    });
    const revoke = h("button", { type: "button", class: "danger small" }, "Revoke");
    revoke.addEventListener("click", async () => {
      try {
        await api("DELETE", `/v1.0/extensions/${ext.id}/provisioning/${link.id}`);
        fill(spot, h("p", { role: "status" }, "The link was revoked: it no longer works."));
      } catch (err) {
        status(`The link was not revoked: ${why(err)}`, "error");
      }
    });
    fill(
      spot,
      img,
      h(
        "p",
        {},
        h("code", { "data-testid": "provisioning-url" }, link.url),
        " ",
        copyButton(() => link.url, "Link"),
      ),
      h(
        "p",
        { class: "muted small" },
        `Works until ${when(link.tm_expire)}; whoever holds it can read the password.`,
      ),
      revoke,
    );
  }

  issue.addEventListener("click", async () => {
    try {
      show(await api("POST", `/v1.0/extensions/${ext.id}/provisioning`));
    } catch (err) {
      status(`No link was issued: ${why(err)}`, "error");
    }
  });

  return h(
    "section",
    { class: "card", "aria-labelledby": "prov-h" },
    h("h2", { id: "prov-h" }, "Onboard a phone"),
    h(
      "p",
      {},
      "A link that sets a phone up by itself: scan its QR code with Linphone, or fetch it with ?format=baresip.",
    ),
    issue,
    spot,
  );
}
