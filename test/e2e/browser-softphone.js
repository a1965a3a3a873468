// The browser side of test/e2e/browser.ts: a softphone page as a web developer would write one with
// JsSIP (https://jssip.net), bundled for the browser by esbuild when the tests start. It keeps no UI
// of its own beyond a status panel (what a failure's screenshot shows); the test drives it through
// `window.softphone` with Playwright's `page.evaluate`, and reads back what happened: the UA's and
// the calls' events in order, and each call's RTCPeerConnection state.
import JsSIP from "jssip";

const started = Date.now();
/** every event, in order: { at: ms since the page loaded, what, ...details } */
const events = [];
/** the calls of this page, in order: { id, direction, session, states: [...] } */
const calls = [];
let ua;

function note(what, details = {}) {
  events.push({ at: Date.now() - started, what, ...details });
  render();
}

function render() {
  const panel = document.getElementById("status");
  if (!panel) return;
  const lines = [
    `page ${document.title}, JsSIP ${JsSIP.version}`,
    `registered: ${ua?.isRegistered() ?? false}`,
  ];
  for (const c of calls) {
    lines.push(
      `call ${c.id} (${c.direction}): ${c.states.join(" → ")}; peer connection ${c.pc?.connectionState ?? "none"}`,
    );
  }
  for (const { at, what, ...details } of events.slice(-30))
    lines.push(`+${at}ms ${what} ${JSON.stringify(details)}`);
  panel.textContent = lines.join("\n");
}

const audioOnly = { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } };

function watchPeerConnection(call, pc) {
  call.pc = pc;
  pc.addEventListener("connectionstatechange", () => {
    call.connectionStates.push(pc.connectionState);
    note("peerconnection", { call: call.id, state: pc.connectionState });
  });
  pc.addEventListener("icecandidate", (e) => {
    if (e.candidate) call.candidates.push(e.candidate.candidate);
  });
  pc.addEventListener("track", (e) => {
    call.remoteTracks.push(e.track.kind);
    note("track", { call: call.id, kind: e.track.kind });
  });
}

function track(session, direction, request, target) {
  const call = {
    id: calls.length + 1,
    direction,
    session,
    states: ["new"],
    connectionStates: [],
    candidates: [],
    remoteTracks: [],
    pc: undefined,
    ended: undefined,
    from: request ? String(request.from.uri) : undefined,
    to: request ? String(request.to.uri) : target,
    ruri: request ? String(request.ruri) : undefined,
  };
  calls.push(call);
  const state = (name, extra = {}) => {
    call.states.push(name);
    note(name, { call: call.id, ...extra });
  };
  if (session.connection) watchPeerConnection(call, session.connection);
  session.on("peerconnection", (e) => watchPeerConnection(call, e.peerconnection));
  session.on("progress", (e) => state("progress", { status: e.response?.status_code }));
  session.on("accepted", () => state("accepted"));
  session.on("hold", (e) => state(`hold by ${e.originator}`));
  session.on("unhold", (e) => state(`unhold by ${e.originator}`));
  session.on("peerconnection:setremotedescriptionfailed", (e) =>
    note("setremotedescriptionfailed", { call: call.id, error: String(e?.message ?? e) }),
  );
  session.on("confirmed", () => state("confirmed"));
  for (const end of ["ended", "failed"]) {
    session.on(end, (e) => {
      call.ended = {
        how: end,
        originator: e.originator,
        cause: e.cause,
        status: e.message?.status_code,
        method: e.message?.method,
      };
      state(end, call.ended);
    });
  }
  note("session", { call: call.id, direction, from: call.from, to: call.to });
  return call;
}

/** What the test reads back: plain data only. */
function snapshot() {
  return {
    registered: ua?.isRegistered() ?? false,
    connected: ua?.isConnected() ?? false,
    events: events.slice(),
    calls: calls.map((c) => ({
      id: c.id,
      direction: c.direction,
      states: c.states.slice(),
      connectionState: c.pc?.connectionState,
      connectionStates: c.connectionStates.slice(),
      candidates: c.candidates.slice(),
      remoteTracks: c.remoteTracks.slice(),
      ended: c.ended,
      from: c.from,
      to: c.to,
      ruri: c.ruri,
    })),
  };
}

window.softphone = {
  version: JsSIP.version,
  /** JsSIP's causes of a session's end (BYE: "Terminated", …) */
  causes: { ...JsSIP.C.causes },
  /**
   * Starts the UA as a user sets up a browser softphone: the SIP address `sip:<ext>@<domain>`,
   * the digest username and password, the WebSocket URL of the server; registers at once.
   */
  start(o) {
    const socket = new JsSIP.WebSocketInterface(o.wsUrl);
    ua = new JsSIP.UA({
      sockets: [socket],
      uri: o.uri,
      authorization_user: o.username,
      password: o.password,
      display_name: o.displayName,
      register: o.register ?? true,
      register_expires: o.expires ?? 600,
      session_timers: false,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 2,
    });
    ua.on("connecting", (e) => note("connecting", { attempts: e.attempts }));
    ua.on("connected", () => note("connected"));
    ua.on("disconnected", (e) => note("disconnected", { error: e.error, code: e.code, reason: e.reason }));
    ua.on("registered", (e) => note("registered", { status: e.response?.status_code }));
    ua.on("unregistered", () => note("unregistered"));
    ua.on("registrationFailed", (e) =>
      note("registrationFailed", { cause: e.cause, status: e.response?.status_code }),
    );
    ua.on("newRTCSession", (e) => {
      if (e.originator === "remote") track(e.session, "incoming", e.request);
    });
    ua.start();
    note("started", { wsUrl: o.wsUrl, uri: o.uri });
  },
  /** Calls `target` with audio from the (fake) microphone; resolves with the call's id. */
  call(target) {
    const session = ua.call(target, audioOnly);
    return track(session, "outgoing", undefined, target).id;
  },
  answer(id) {
    calls[id - 1].session.answer(audioOnly);
  },
  /** Rejects an incoming call not answered yet with `status`. */
  reject(id, status) {
    calls[id - 1].session.terminate({ status_code: status });
  },
  /** Puts the call on hold (a re-INVITE offering sendonly). */
  hold(id) {
    return calls[id - 1].session.hold();
  },
  /** Takes it off hold (a re-INVITE offering sendrecv). */
  unhold(id) {
    return calls[id - 1].session.unhold();
  },
  /** BYE (or CANCEL, before the answer). */
  hangup(id) {
    calls[id - 1].session.terminate();
  },
  /** Stops the UA; resolves once it has unregistered (2 s at most). */
  async stop() {
    if (!ua) return;
    const done = new Promise((resolve) => {
      if (!ua.isRegistered()) return resolve();
      ua.once("unregistered", resolve);
      ua.once("registrationFailed", resolve);
      setTimeout(resolve, 2000);
    });
    ua.stop();
    await done;
  },
  snapshot,
};
render();
