// The web phone (#/phone): this browser registers as one of the customer's extensions with JsSIP
// over SIP over WebSocket on this host (/sip; wss:// when the console came over https://), calls
// an extension or any SIP address with the microphone, and answers or declines calls. Media flows
// browser to browser (WebRTC); sipext carries the signalling. Its page is built once and kept, so
// a call goes on while the other pages are looked at; the menu says when it rings.
import { api } from "./api.js";
import { announce, clock, field, fill, h, why } from "./dom.js";
import { session, sipWebSocketUrl } from "./session.js";

let JsSIP;
let ua;
/** the call in progress: { session, peer, direction, startedAt } */
let call;

const extInput = h("input", { name: "extension", list: "phone-exts", required: true, autocomplete: "off" });
const passInput = h("input", {
  name: "password",
  type: "password",
  required: true,
  autocomplete: "current-password",
});
const iceInput = h("input", { name: "ice", autocomplete: "off", placeholder: "stun:stun.example.org:3478" });
const extList = h("datalist", { id: "phone-exts" });
const regStatus = h("p", { role: "status", "data-testid": "reg-status" }, "Not registered.");
const registerBtn = h("button", { type: "submit", class: "primary" }, "Register");
const unregisterBtn = h("button", { type: "button", hidden: true }, "Unregister");
const target = h("input", { name: "target", required: true, autocomplete: "off", inputmode: "tel" });
const callBtn = h("button", { type: "submit", class: "primary" }, "Call");
const incomingText = h("p", { role: "alert" });
const answerBtn = h("button", { type: "button", class: "primary" }, "Answer");
const declineBtn = h("button", { type: "button", class: "danger" }, "Decline");
const incoming = h(
  "div",
  { class: "incoming", hidden: true },
  incomingText,
  h("div", { class: "actions" }, answerBtn, declineBtn),
);
const callStatus = h("p", { role: "status", "data-testid": "call-status" });
const callTimer = h("p", { class: "muted", "data-testid": "call-timer" });
const media = h("span", { "data-testid": "media" }, "—");
const muteBtn = h("button", { type: "button", "aria-pressed": "false" }, "Mute");
const hangupBtn = h("button", { type: "button", class: "danger" }, "Hang up");
const callPanel = h(
  "div",
  { class: "call", hidden: true, "data-state": "idle" },
  callStatus,
  callTimer,
  h("p", {}, "Media: ", media),
  h("div", { class: "actions" }, muteBtn, hangupBtn),
);
const audio = h("audio", { autoplay: true });
const dialForm = h(
  "form",
  { class: "dial" },
  field("Extension or SIP address", target, "an extension of this customer (101), or sip:user@host"),
  h("div", { class: "actions" }, callBtn),
);
const callSection = h(
  "section",
  { class: "card", "aria-labelledby": "call-h", hidden: true },
  h("h2", { id: "call-h" }, "Call"),
  dialForm,
  incoming,
  callPanel,
  audio,
);
const regForm = h(
  "form",
  { class: "card", "aria-labelledby": "acct-h" },
  h("h2", { id: "acct-h" }, "Account"),
  field("Extension", extInput),
  extList,
  field("Password", passInput, "the extension's SIP password"),
  field(
    "ICE server (optional)",
    iceInput,
    "STUN or TURN for calls across NATs; empty: direct (same network)",
  ),
  regStatus,
  h("div", { class: "actions" }, registerBtn, unregisterBtn),
);
const root = h(
  "div",
  { class: "phone", "data-reg-state": "unregistered" },
  h("h1", {}, "Web phone"),
  h(
    "p",
    { class: "muted" },
    "This browser registers as an extension over SIP over WebSocket and calls with the microphone. Media flows browser to browser (WebRTC): calls to plain SIP phones need a media gateway.",
  ),
  regForm,
  callSection,
);

function badge(text) {
  const el = document.getElementById("phone-badge");
  if (el) el.textContent = text ? ` (${text})` : "";
}

function setReg(state, text) {
  root.dataset.regState = state;
  regStatus.textContent = text;
  const on = state === "registered";
  callSection.hidden = !on && !call;
  unregisterBtn.hidden = state === "unregistered";
  registerBtn.disabled = state === "connecting" || on;
  badge(on ? "registered" : "");
}

function options() {
  const ice = iceInput.value.trim();
  return {
    mediaConstraints: { audio: true, video: false },
    pcConfig: { iceServers: ice ? [{ urls: ice }] : [] },
  };
}

async function loadJssip() {
  if (JsSIP) return JsSIP;
  const url = new URL("./vendor/jssip.js", import.meta.url);
  try {
    JsSIP = (await import(url.href)).default;
    return JsSIP;
  } catch (err) {
    // The server says why (JsSIP not installed, no bundle built) in a JSON error.
    const res = await fetch(url).catch(() => undefined);
    const body = res ? await res.json().catch(() => undefined) : undefined;
    throw new Error(body?.error?.message ?? `JsSIP could not be loaded: ${why(err)}`);
  }
}

function setCall(state, text) {
  callPanel.hidden = false;
  callPanel.dataset.state = state;
  callStatus.textContent = text;
  dialForm.hidden = state !== "ended";
}

function watchMedia(pc) {
  const show = () => {
    media.textContent = pc.connectionState;
    callPanel.dataset.media = pc.connectionState;
  };
  pc.addEventListener("connectionstatechange", show);
  pc.addEventListener("track", (e) => {
    audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
  });
  show();
}

function follow(s, peer, direction) {
  call = { session: s, peer, direction, startedAt: 0 };
  media.textContent = "—";
  muteBtn.setAttribute("aria-pressed", "false");
  muteBtn.textContent = "Mute";
  if (s.connection) watchMedia(s.connection);
  s.on("peerconnection", (e) => watchMedia(e.peerconnection));
  s.on("progress", () => {
    if (direction === "outgoing") setCall("ringing", `Ringing ${peer}…`);
  });
  s.on("accepted", () => {
    call.startedAt = Date.now();
    incoming.hidden = true;
    setCall("in-call", `In call with ${peer}`);
    announce(`Call with ${peer} answered`);
  });
  s.on("confirmed", () => {
    callPanel.dataset.confirmed = "true";
  });
  const end = (how) => (e) => {
    const cause = e.cause || how;
    incoming.hidden = true;
    setCall(
      "ended",
      how === "ended" ? `Call with ${peer} ended (${cause}).` : `Call with ${peer} failed: ${cause}.`,
    );
    announce(callStatus.textContent);
    audio.srcObject = null;
    call = undefined;
    badge(ua?.isRegistered() ? "registered" : "");
    callSection.hidden = !ua?.isRegistered();
  };
  s.on("ended", end("ended"));
  s.on("failed", end("failed"));
}

function onIncoming(s, request) {
  const peer = String(request.from.uri);
  if (call) {
    s.terminate({ status_code: 486, reason_phrase: "Busy Here" });
    return;
  }
  follow(s, peer, "incoming");
  callPanel.hidden = true;
  callPanel.dataset.state = "incoming";
  incoming.hidden = false;
  incomingText.textContent = `Incoming call from ${peer}`;
  badge("ringing");
  announce(`Incoming call from ${peer}: answer it on the Web phone page`);
}

async function register(ev) {
  ev.preventDefault();
  if (!window.isSecureContext) {
    setReg(
      "failed",
      "The browser allows the microphone on https:// pages (and localhost) only: open the console over HTTPS.",
    );
    return;
  }
  const ext = extInput.value.trim();
  setReg("connecting", "Loading JsSIP…");
  let lib;
  try {
    lib = await loadJssip();
  } catch (err) {
    setReg("failed", why(err));
    return;
  }
  ua?.stop();
  const socket = new lib.WebSocketInterface(sipWebSocketUrl());
  const me = new lib.UA({
    sockets: [socket],
    uri: `sip:${ext}@${session.domain}`,
    authorization_user: ext,
    password: passInput.value,
    register: true,
    register_expires: 600,
    session_timers: false,
    user_agent: `sipext console (JsSIP ${lib.version})`,
  });
  ua = me;
  /** Handlers of this UA only while it is the phone's (a replaced one may still tell of its end). */
  const on = (event, fn) => me.on(event, (e) => ua === me && fn(e));
  setReg("connecting", `Connecting to ${sipWebSocketUrl()}…`);
  on("registered", () => {
    setReg("registered", `Registered as ${ext} (sip:${ext}@${session.domain}).`);
    announce(`Web phone registered as ${ext}`);
  });
  on("unregistered", () => {
    if (root.dataset.regState !== "failed") setReg("unregistered", "Not registered.");
  });
  on("registrationFailed", (e) => {
    setReg("failed", `Registration failed: ${e.cause}${e.response ? ` (${e.response.status_code})` : ""}.`);
    me.stop();
  });
  on("disconnected", () => {
    if (root.dataset.regState === "registered") setReg("connecting", "Connection lost; reconnecting…");
  });
  on("newRTCSession", (e) => {
    if (e.originator === "remote") onIncoming(e.session, e.request);
  });
  me.start();
}

function targetUri(text) {
  const t = text.trim();
  if (/^sips?:/i.test(t)) return t;
  return t.includes("@") ? `sip:${t}` : `sip:${t}@${session.domain}`;
}

dialForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (!ua || call) return;
  const uri = targetUri(target.value);
  try {
    const s = ua.call(uri, options());
    follow(s, uri, "outgoing");
    setCall("calling", `Calling ${uri}…`);
  } catch (err) {
    setCall("ended", `The call could not start: ${why(err)}`);
  }
});
answerBtn.addEventListener("click", () => {
  if (!call) return;
  incoming.hidden = true;
  setCall("answering", `Answering ${call.peer}…`);
  call.session.answer(options());
});
declineBtn.addEventListener("click", () => {
  call?.session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
});
hangupBtn.addEventListener("click", () => call?.session.terminate());
muteBtn.addEventListener("click", () => {
  if (!call) return;
  const muted = call.session.isMuted().audio;
  if (muted) call.session.unmute({ audio: true });
  else call.session.mute({ audio: true });
  muteBtn.setAttribute("aria-pressed", String(!muted));
  muteBtn.textContent = muted ? "Mute" : "Unmute";
});
regForm.addEventListener("submit", register);
setInterval(() => {
  callTimer.textContent = call?.startedAt ? clock((Date.now() - call.startedAt) / 1000) : "";
}, 1000);
unregisterBtn.addEventListener("click", unregister);
window.addEventListener("pagehide", () => ua?.stop());

/** Ends the call and the registration. */
function unregister() {
  call?.session.terminate();
  ua?.stop();
  ua = undefined;
  setReg("unregistered", "Not registered.");
}

/** Unregisters and forgets the account (log out). */
export function stopPhone() {
  unregister();
  regForm.reset();
  extList.replaceChildren();
}

export function renderPhone(main) {
  fill(main, root);
  api("GET", "/v1.0/extensions?page_size=100")
    .then(({ result }) =>
      fill(
        extList,
        result.map((e) => h("option", { value: e.extension }, e.name)),
      ),
    )
    .catch(() => {});
  return () => {};
}
