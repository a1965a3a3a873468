// Real browsers for the end-to-end tests: Debian's Chromium (/usr/bin/chromium), driven by
// playwright-core, each page a JsSIP softphone (./browser-softphone.js) that registers and calls
// over SIP over WebSocket (RFC 7118) as a web page does; WebRTC media from Chromium's fake
// microphone flows page to page, sipext carries the signalling only.
//
// How Chromium is started, and why (the flags that matter here; playwright-core adds its own
// automation flags, `--headless` and `--no-sandbox`, and a fresh temporary `--user-data-dir`):
// - the flags this machine needs (.library/env/machines/node-svc.md): `--no-sandbox` (root),
//   `--disable-gpu`, `--no-first-run`, and no network of Chromium's own (`--disable-quic`,
//   `--disable-background-networking`, `--disable-component-update`, `--disable-sync`): the
//   machine is offline, and every lookup of Google's hosts would fail and slow the start;
// - fake media: `--use-fake-device-for-media-stream` (a beeping microphone) and
//   `--use-fake-ui-for-media-stream` (getUserMedia allowed without a prompt);
// - WebRTC on one machine: `--allow-loopback-in-peer-connection` (ICE gathers 127.0.0.1 host
//   candidates, which Chromium otherwise leaves out) and
//   `--disable-features=WebRtcHideLocalIpsWithMdns` (host candidates carry the address itself,
//   not a random `.local` name that only multicast DNS could resolve);
// - wss:// to a self-signed certificate: `--ignore-certificate-errors-spki-list=<base64 SHA-256
//   of the certificate's SubjectPublicKeyInfo>` trusts that one key only (not every bad
//   certificate, as `--ignore-certificate-errors` would).
//
// The page and JsSIP are served by a small static HTTP server on 127.0.0.1 (a secure context:
// getUserMedia works without TLS there). Why JsSIP in the browser: SIP.js is already driven in
// Node over its WebSocket transport (./sipjs-phone.ts), so the browser brings a second real
// library. Its npm package is CommonJS with three dependencies (debug, events, sdp-transform), as
// a web developer gets it; esbuild's JS API bundles it with the page script into one IIFE while
// Chromium starts (about 0.15 s), as a web developer's build would — sip.js's ESM `lib/` could
// be served as is, JsSIP's cannot.
//
// Each page records its console, its page errors, every WebSocket frame both ways (Playwright's
// `websocket` events: the page's SIP trace) and the softphone's own events; `explain()` appends
// all of them to whatever fails, with a screenshot of each page (the page shows its state), whose
// files stay for the reader and are attached to the test as annotations.
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { DbKind } from "../helpers/harness.js";
import { phoneSuite } from "./phones.js";

export const CHROMIUM = process.env.SIPEXT_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Flags of the machine (offline, root, no GPU). */
const MACHINE_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Fake microphone, no permission prompt, WebRTC host candidates on loopback in clear. */
const WEBRTC_FLAGS = [
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
];

/**
 * The base64 SHA-256 of a certificate's SubjectPublicKeyInfo, as Chromium's
 * `--ignore-certificate-errors-spki-list` takes it.
 */
export function spkiHash(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

let bundle: Promise<string> | undefined;

/** The page script with JsSIP, bundled once per test process. */
function softphoneBundle(): Promise<string> {
  bundle ??= build({
    entryPoints: [fileURLToPath(new URL("./browser-softphone.js", import.meta.url))],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "chrome120",
    write: false,
    logLevel: "silent",
  }).then((r) => r.outputFiles[0]?.text ?? "");
  return bundle;
}

const PAGE = (label: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>${label}</title>
<style>body{font:12px monospace;margin:8px}pre{white-space:pre-wrap}</style></head>
<body><pre id="status">loading…</pre><script src="/softphone.js"></script></body></html>`;

/** Serves the softphone page (`/?label=…`) and its script on a free port of 127.0.0.1. */
async function startSite(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/") {
      const label = (url.searchParams.get("label") ?? "softphone").replace(/[^\w -]/g, "");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE(label));
    } else if (url.pathname === "/softphone.js") {
      softphoneBundle().then(
        (js) => res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(js),
        (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(err.message),
      );
    } else if (url.pathname === "/favicon.ico") {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return { url: `http://127.0.0.1:${address.port}`, server };
}

/** One WebSocket frame of a page: a SIP message (RFC 7118: one message per frame). */
export interface SipFrame {
  direction: "sent" | "received";
  /** the WebSocket's URL */
  url: string;
  at: number;
  firstLine: string;
  raw: string;
}

export interface SoftphoneEvent {
  at: number;
  what: string;
  [detail: string]: unknown;
}

/** A call as the page saw it (browser-softphone.js `snapshot()`). */
export interface PageCall {
  id: number;
  direction: "incoming" | "outgoing";
  /** JsSIP's session events in order: new, progress, accepted, confirmed, hold/unhold by …, ended/failed */
  states: string[];
  connectionState: RTCPeerConnectionState | undefined;
  connectionStates: RTCPeerConnectionState[];
  /** the local ICE candidates gathered */
  candidates: string[];
  /** kinds of the remote tracks received */
  remoteTracks: string[];
  ended:
    | {
        how: "ended" | "failed";
        originator: "local" | "remote" | "system";
        cause: string;
        status?: number;
        method?: string;
      }
    | undefined;
  from: string | undefined;
  to: string | undefined;
  ruri: string | undefined;
}
type RTCPeerConnectionState = "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed";

export interface Snapshot {
  registered: boolean;
  connected: boolean;
  events: SoftphoneEvent[];
  calls: PageCall[];
}

/** How a user sets up a browser softphone. */
export interface SoftphoneAccount {
  /** `ws://…/sip` or `wss://…/sip` */
  wsUrl: string;
  /** the extension */
  ext: string;
  /** the customer's SIP domain */
  domain: string;
  /** the digest username (the extension, CONTRACT §3) */
  username: string;
  password: string;
  register?: boolean;
  expires?: number;
}

interface PageApi {
  version: string;
  causes: Record<string, string>;
  start(o: Record<string, unknown>): void;
  call(target: string): number;
  answer(id: number): void;
  reject(id: number, status: number): void;
  hangup(id: number): void;
  hold(id: number): boolean;
  unhold(id: number): boolean;
  stop(): Promise<void>;
  snapshot(): Snapshot;
}
declare const window: { softphone: PageApi };

/**
 * A page of the browser and all it logged: its console, page errors, failed requests and every
 * WebSocket frame both ways. `log()` says it all for an assertion message; subclasses add what
 * they know (`details()`) and how they stop (`stop()`).
 */
export class TracedPage {
  readonly console: string[] = [];
  readonly frames: SipFrame[] = [];
  private readonly opened = Date.now();

  constructor(
    readonly label: string,
    readonly page: Page,
  ) {
    page.on("console", (m) => this.console.push(`+${this.since()}ms ${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => this.console.push(`+${this.since()}ms pageerror: ${e.stack ?? e.message}`));
    page.on("requestfailed", (r) =>
      this.console.push(`+${this.since()}ms request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`),
    );
    page.on("websocket", (ws) => {
      this.console.push(`+${this.since()}ms websocket opened: ${ws.url()}`);
      const frame = (direction: SipFrame["direction"]) => (f: { payload: string | Buffer }) => {
        const raw = typeof f.payload === "string" ? f.payload : f.payload.toString("utf8");
        this.frames.push({
          direction,
          url: ws.url(),
          at: this.since(),
          firstLine: raw.split("\r\n")[0] ?? "",
          raw,
        });
      };
      ws.on("framesent", frame("sent"));
      ws.on("framereceived", frame("received"));
      ws.on("socketerror", (e) => this.console.push(`+${this.since()}ms websocket error: ${e}`));
      ws.on("close", () => this.console.push(`+${this.since()}ms websocket closed: ${ws.url()}`));
    });
  }

  protected since(): number {
    return Date.now() - this.opened;
  }

  sent(): SipFrame[] {
    return this.frames.filter((f) => f.direction === "sent");
  }

  received(): SipFrame[] {
    return this.frames.filter((f) => f.direction === "received");
  }

  /** Lines about the page's own state, first in its log. */
  protected async details(): Promise<string[]> {
    return [];
  }

  /** Ends what the page does before it is closed. */
  async stop(): Promise<void> {}

  /** Everything the page logged and did, for an assertion message. */
  async log(): Promise<string> {
    const frames = this.frames.map(
      (f) => `  +${f.at}ms ${f.direction === "sent" ? ">>" : "<<"} ${f.url}\n${f.raw}`,
    );
    return [
      ...(await this.details()),
      `--- page ${this.label}: console`,
      ...this.console.map((l) => `  ${l}`),
      `--- page ${this.label}: WebSocket frames (${this.frames.length})`,
      ...frames,
      `--- end of page ${this.label}`,
    ].join("\n");
  }
}

/** A page with a JsSIP softphone, and all it logged. */
export class Softphone extends TracedPage {
  private last: Snapshot | undefined;

  /** JsSIP's version, once the page has loaded it. */
  version(): Promise<string> {
    return this.page.evaluate(() => window.softphone.version);
  }

  /** JsSIP's causes of a session's end by name: BYE ("Terminated"), INCOMPATIBLE_SDP, … */
  causes(): Promise<Record<string, string>> {
    return this.page.evaluate(() => window.softphone.causes);
  }

  /** Starts the UA (`sip:<ext>@<domain>` over `wsUrl`); it registers unless told not to. */
  async start(a: SoftphoneAccount): Promise<void> {
    await this.page.evaluate((o) => window.softphone.start(o), {
      wsUrl: a.wsUrl,
      uri: `sip:${a.ext}@${a.domain}`,
      username: a.username,
      password: a.password,
      displayName: this.label,
      register: a.register ?? true,
      expires: a.expires ?? 600,
    });
  }

  /** Calls `target`; resolves with the page's id of the call. */
  call(target: string): Promise<number> {
    return this.page.evaluate((t) => window.softphone.call(t), target);
  }

  answer(id: number): Promise<void> {
    return this.page.evaluate((i) => window.softphone.answer(i), id);
  }

  reject(id: number, status: number): Promise<void> {
    return this.page.evaluate(([i, s]) => window.softphone.reject(i, s), [id, status] as const);
  }

  /** Puts call `id` on hold (re-INVITE); false when JsSIP cannot now. */
  hold(id: number): Promise<boolean> {
    return this.page.evaluate((i) => window.softphone.hold(i), id);
  }

  unhold(id: number): Promise<boolean> {
    return this.page.evaluate((i) => window.softphone.unhold(i), id);
  }

  hangup(id: number): Promise<void> {
    return this.page.evaluate((i) => window.softphone.hangup(i), id);
  }

  /** Stops the UA (unregisters, closes the WebSocket). */
  override stop(): Promise<void> {
    return this.page.evaluate(() => window.softphone.stop());
  }

  async snapshot(): Promise<Snapshot> {
    this.last = await this.page.evaluate(() => window.softphone.snapshot());
    return this.last;
  }

  /** Polls the page until `check` holds for its snapshot; fails after `ms`. */
  async until<T>(what: string, check: (s: Snapshot) => T | undefined | false, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = check(await this.snapshot());
      if (found !== undefined && found !== false) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} on page ${this.label}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The page's call `id` once `check` holds for it. */
  callWhen(id: number, what: string, check: (c: PageCall) => boolean, ms = 10_000): Promise<PageCall> {
    return this.until(`call ${id}: ${what}`, (s) => s.calls.find((c) => c.id === id && check(c)), ms);
  }

  /** The first incoming call (or the next after `after` calls). */
  incoming(after = 0, ms = 10_000): Promise<PageCall> {
    return this.until(
      "an incoming call",
      (s) => s.calls.filter((c) => c.direction === "incoming")[after],
      ms,
    );
  }

  protected override async details(): Promise<string[]> {
    let snap = this.last;
    try {
      snap = await this.snapshot();
    } catch {
      // the page is gone or hung: the last snapshot read will do
    }
    const events = (snap?.events ?? []).map((e) => {
      const { at, what, ...rest } = e;
      return `  +${at}ms ${what} ${JSON.stringify(rest)}`;
    });
    const calls = (snap?.calls ?? []).map(
      (c) =>
        `  call ${c.id} ${c.direction}: ${c.states.join(" → ")}; peer connection ${c.connectionStates.join(" → ") || "-"}; candidates ${c.candidates.length}`,
    );
    return [`--- page ${this.label}: softphone events`, ...events, ...calls];
  }
}

export interface BrowserOptions {
  /** certificates (PEM) whose keys Chromium trusts for wss:// and https:// */
  trust?: string[];
}

export type Annotate = (message: string, attachment: { path: string; contentType: string }) => unknown;

/** One Chromium, its softphone pages, and the static site that serves them. */
export class Browsers {
  private readonly pages: TracedPage[] = [];
  /** contexts of pages opened with `openPage`, closed with them */
  private readonly ownContexts: BrowserContext[] = [];
  private context: Promise<BrowserContext> | undefined;
  /** where failure screenshots (and any a test takes) are written */
  readonly shots = mkdtempSync(join(tmpdir(), "sipext-browser-"));

  private constructor(
    readonly browser: Browser,
    readonly site: { url: string; server: Server },
    readonly flags: string[],
  ) {}

  static async launch(o: BrowserOptions = {}): Promise<Browsers> {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set SIPEXT_TEST_CHROMIUM`,
      );
    const flags = [...MACHINE_FLAGS, ...WEBRTC_FLAGS];
    if (o.trust?.length)
      flags.push(`--ignore-certificate-errors-spki-list=${o.trust.map(spkiHash).join(",")}`);
    const site = await startSite();
    try {
      // esbuild bundles the page script while Chromium starts.
      const [browser] = await Promise.all([
        chromium.launch({
          executablePath: CHROMIUM,
          headless: true,
          chromiumSandbox: false,
          args: flags,
          timeout: 30_000,
        }),
        softphoneBundle(),
      ]);
      return new Browsers(browser, site, flags);
    } catch (err) {
      site.server.close();
      throw err;
    }
  }

  /** A new page with the softphone loaded (JsSIP ready), labelled for the messages. */
  async open(label: string): Promise<Softphone> {
    this.context ??= this.browser.newContext();
    const context = await this.context;
    const page = await context.newPage();
    const phone = new Softphone(label, page);
    this.pages.push(phone);
    await page.goto(`${this.site.url}/?label=${encodeURIComponent(label)}`, { timeout: 10_000 });
    await page.waitForFunction(() => "softphone" in window, undefined, { timeout: 10_000 });
    return phone;
  }

  /**
   * A page of its own browser context (its own cookies, `options` such as permissions and the
   * viewport) at `url`, made by `make` (a TracedPage or a subclass), traced and screenshot on
   * failure like the softphones; closed with its context after the test.
   */
  async openPage<P extends TracedPage>(
    label: string,
    url: string,
    make: (label: string, page: Page) => P,
    options: BrowserContextOptions = {},
  ): Promise<P> {
    const context = await this.browser.newContext(options);
    this.ownContexts.push(context);
    const traced = make(label, await context.newPage());
    this.pages.push(traced);
    await traced.page.goto(url, { timeout: 10_000 });
    return traced;
  }

  /**
   * Runs `body`; whatever it throws gets every page's softphone events, console and SIP trace
   * appended (and `more()`, e.g. the baresips' logs), and a screenshot of each page, whose path
   * is in the message and given to `annotate` (the test context's) as an attachment.
   */
  async explain<T>(body: () => Promise<T>, annotate?: Annotate, more?: () => string): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (err instanceof Error) {
        const parts: string[] = [];
        for (const p of this.pages) {
          parts.push(await p.log());
          const path = join(this.shots, `${Date.now()}-${p.label.replace(/\W/g, "_")}.png`);
          try {
            mkdirSync(this.shots, { recursive: true });
            await p.page.screenshot({ path, timeout: 5_000 });
            parts.push(`(screenshot of page ${p.label}: ${path})`);
            await annotate?.(`screenshot of page ${p.label}`, { path, contentType: "image/png" });
          } catch (e) {
            parts.push(`(no screenshot of page ${p.label}: ${(e as Error).message})`);
          }
        }
        if (more) parts.push(more());
        err.message += `\nChromium flags: ${this.flags.join(" ")}\n${parts.join("\n")}`;
      }
      throw err;
    }
  }

  /**
   * Stops every page's softphone (it unregisters) and closes the page, its WebSocket with it; the
   * next test opens fresh ones in the same browser context (a context per test would cost a
   * renderer start per test, for nothing: the pages keep no state beyond their own).
   */
  async closePages(): Promise<void> {
    const pages = this.pages.splice(0);
    await Promise.all(
      pages.map(async (p) => {
        await p.stop().catch(() => {});
        await p.page.close().catch(() => {});
      }),
    );
    await Promise.all(this.ownContexts.splice(0).map((c) => c.close().catch(() => {})));
  }

  async close(): Promise<void> {
    await this.closePages();
    await (await this.context)?.close().catch(() => {});
    await this.browser.close().catch(() => {});
    await new Promise<void>((resolve) => this.site.server.close(() => resolve()));
  }
}

/**
 * A suite's server on `kind` (with `env`), its API client and baresip phones (`phoneSuite`), and
 * one Chromium launched once the server is up, trusting the keys of `trust()`'s certificates.
 * Each test's pages are closed after it, the browser after the suite (before the server).
 * `explain` appends the pages' and the phones' logs to whatever fails.
 */
export function browserSuite(kind: DbKind, env: Record<string, string>, trust: () => string[] = () => []) {
  const base = phoneSuite(kind, env);
  const s = Object.assign(base, {
    browsers: undefined as unknown as Browsers,
    explain<T>(body: () => Promise<T>, annotate?: Annotate): Promise<T> {
      return s.browsers.explain(() => base.phones.explain(body), annotate);
    },
  });
  beforeAll(async () => {
    s.browsers = await Browsers.launch({ trust: trust() });
  });
  afterEach(async () => {
    await s.browsers?.closePages();
  });
  afterAll(async () => {
    await s.browsers?.close();
  });
  return s;
}
