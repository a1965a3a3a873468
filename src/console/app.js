// The console's entry point: the login, the session (who, settings, the event stream), the menu
// and the pages by location hash (#/extensions, #/extensions/<id>, #/calls, #/bans, #/keys,
// #/webhooks, #/phone). Pages are functions `render(main, …)` returning what stops them.
import { api, closeEvents, onStreamState, openEvents, whenLoggedOut } from "./api.js";
import { renderBans } from "./bans.js";
import { renderCalls } from "./calls.js";
import { resetContacts } from "./contacts.js";
import { field, fill, h, status, why } from "./dom.js";
import { renderExtension } from "./extension.js";
import { renderExtensions } from "./extensions.js";
import { renderKeys } from "./keys.js";
import { renderPhone, stopPhone } from "./phone.js";
import { clearSession, loadSession, session } from "./session.js";
import { renderWebhooks } from "./webhooks.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const sessionBar = document.getElementById("session");
const streamBadge = document.getElementById("stream");

const PAGES = [
  { re: /^#\/extensions\/([\w-]+)$/, title: "Extension", render: (m, id) => renderExtension(m, id) },
  { re: /^#\/extensions$/, title: "Extensions", render: renderExtensions },
  { re: /^#\/calls$/, title: "Recent calls", render: renderCalls },
  { re: /^#\/bans$/, title: "SIP bans", render: renderBans },
  { re: /^#\/keys$/, title: "Access keys", render: renderKeys },
  { re: /^#\/webhooks$/, title: "Webhooks", render: renderWebhooks },
  { re: /^#\/phone$/, title: "Web phone", render: renderPhone },
];

let stopPage = () => {};

/** Shows the page of the location's hash; focus moves to it when the user went there. */
function route(moveFocus = true) {
  if (!session.me) return;
  const hash = location.hash || "#/extensions";
  const found = PAGES.map((p) => ({ p, m: p.re.exec(hash) })).find((x) => x.m);
  if (!found) {
    location.replace("#/extensions");
    return;
  }
  stopPage();
  // A message set just before the navigation (deleted, saved) stays; older ones go.
  const st = document.getElementById("status");
  if (st && Date.now() - Number(st.dataset.at ?? 0) > 1500) status("");
  for (const a of nav.querySelectorAll("a")) {
    const here = hash === a.getAttribute("href") || hash.startsWith(`${a.getAttribute("href")}/`);
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${found.p.title} · sipext console`;
  stopPage = found.p.render(main, ...found.m.slice(1)) ?? (() => {});
  if (moveFocus) main.focus({ preventScroll: true });
}

function showLogin(message) {
  stopPage();
  stopPage = () => {};
  nav.hidden = true;
  sessionBar.hidden = true;
  const username = h("input", { name: "username", required: true, autocomplete: "username" });
  const password = h("input", {
    name: "password",
    type: "password",
    required: true,
    autocomplete: "current-password",
  });
  const error = h("p", { class: "error", role: "alert" }, message ?? "");
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h(
    "form",
    { class: "card login", "aria-labelledby": "login-h" },
    h("h1", { id: "login-h" }, "Log in"),
    h("p", { class: "muted" }, "A customer's admin or manager manages its extensions here."),
    field("Username", username),
    field("Password", password),
    error,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      await api("POST", "/auth/login", { username: username.value, password: password.value });
      await enter(true);
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong username or password." : why(err);
      submit.disabled = false;
      password.select();
    }
  });
  document.title = "Log in · sipext console";
  fill(main, form);
  username.focus();
}

async function enter(fromLogin = false) {
  try {
    await loadSession();
  } catch (err) {
    clearSession();
    if (err.status === 403)
      showLogin("This console is for a customer's admins and managers; this user's role cannot use it.");
    else if (err.status === 401) showLogin();
    else showLogin(`The server could not be read: ${why(err)}`);
    return;
  }
  nav.hidden = false;
  sessionBar.hidden = false;
  who.textContent = `${session.me.username ?? session.me.name} (${session.me.role})`;
  openEvents(session.config.events_seq);
  route(fromLogin);
}

async function logout(message) {
  stopPhone();
  closeEvents();
  clearSession();
  resetContacts();
  await api("POST", "/auth/logout").catch(() => {});
  showLogin(message);
}

whenLoggedOut(() => {
  if (session.me) logout("Your session ended: log in again.");
});
document.getElementById("logout").addEventListener("click", () => logout());
window.addEventListener("hashchange", () => route());
onStreamState((state) => {
  streamBadge.dataset.state = state;
  streamBadge.textContent =
    { live: "live", connecting: "connecting…", reconnecting: "reconnecting…", closed: "offline" }[state] ??
    state;
});
enter();
