// The web console (src/console/) in Chromium, as a person uses it: through labels, roles and
// button names (Playwright's accessible locators), so that a control a test can reach is one a
// screen reader can name. A ConsolePage is a TracedPage (./browser.ts): its console, page errors
// and WebSocket frames (the web phone's SIP) go into a failure's message, with a screenshot and
// what the console showed (URL, status line, the page's text).
import type { Locator, Page } from "playwright-core";
import { expect } from "vitest";
import { type Browsers, TracedPage } from "./browser.js";

declare const window: { __sipextPageId?: string };

export class ConsolePage extends TracedPage {
  /** A console page of its own context (cookies, clipboard permission) at `baseUrl`. */
  static open(browsers: Browsers, label: string, baseUrl: string, viewport = { width: 1280, height: 860 }) {
    return browsers.openPage(label, `${baseUrl}/`, (l, p: Page) => new ConsolePage(l, p, baseUrl), {
      viewport,
      permissions: ["clipboard-read", "clipboard-write"],
    });
  }

  constructor(
    label: string,
    page: Page,
    readonly baseUrl: string,
  ) {
    super(label, page);
  }

  main(): Locator {
    return this.page.locator("main");
  }

  /** The heading of the page shown. */
  heading(): Locator {
    return this.main().getByRole("heading", { level: 1 });
  }

  /** The status line at the top (role=status). */
  statusLine(): Locator {
    return this.page.locator("#status");
  }

  button(name: string | RegExp, within: Locator = this.main()): Locator {
    return within.getByRole("button", { name, exact: typeof name === "string" });
  }

  /** Logs in through the form; the extensions page shows. */
  async login(username: string, password: string): Promise<void> {
    await this.page.getByLabel("Username").fill(username);
    await this.page.getByLabel("Password", { exact: true }).fill(password);
    await this.button("Log in").click();
    await this.heading()
      .filter({ hasText: /^Extensions$/ })
      .waitFor({ timeout: 10_000 });
  }

  /** Follows a link of the menu (as a click on it). */
  async menu(name: string): Promise<void> {
    await this.page.getByRole("navigation", { name: "Console" }).getByRole("link", { name }).click();
  }

  /** On the web phone's page: registers as `ext` with `password` (the status says how it went). */
  async registerPhone(ext: string, password: string): Promise<void> {
    await this.page.getByLabel("Extension", { exact: true }).fill(ext);
    await this.page.getByLabel("Password", { exact: true }).fill(password);
    await this.button("Register").click();
  }

  /** The web phone's registration status line. */
  phoneStatus(text: string | RegExp): Locator {
    return this.page.getByTestId("reg-status").getByText(text);
  }

  /** Answers the open confirmation dialog with its button `action`. */
  async confirm(action: string): Promise<void> {
    const dialog = this.page.getByRole("dialog");
    await dialog.waitFor();
    await this.button(action, dialog).click();
    await dialog.waitFor({ state: "detached" });
  }

  /** Marks the document; `sameDocument()` tells whether the page was reloaded since. */
  async mark(): Promise<string> {
    const id = Math.random().toString(36).slice(2);
    await this.page.evaluate((v) => {
      window.__sipextPageId = v;
    }, id);
    return id;
  }

  async sameDocument(id: string): Promise<boolean> {
    return (await this.page.evaluate(() => window.__sipextPageId)) === id;
  }

  /** Messages of the browser refusing something under the page's Content-Security-Policy. */
  cspViolations(): string[] {
    return this.console.filter((l) => /Content Security Policy|Refused to/i.test(l));
  }

  /** The page's inputs, selects and textareas without an accessible name (a label). */
  async unlabelled(): Promise<string[]> {
    // A script as text: the tests are typed without the DOM's types.
    return this.page.evaluate(`[...document.querySelectorAll("input, select, textarea")]
      .filter((el) => el.type !== "hidden" && el.getAttribute("aria-hidden") !== "true")
      .filter((el) => !el.labels?.length && !el.getAttribute("aria-label"))
      .map((el) => el.outerHTML)`);
  }

  /** Whether the document is wider than the window (a phone would scroll sideways). */
  overflowsSideways(): Promise<boolean> {
    return this.page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1");
  }

  /** The text of the clipboard (the context grants the permission). */
  clipboard(): Promise<string> {
    return this.page.evaluate("navigator.clipboard.readText()");
  }

  protected override async details(): Promise<string[]> {
    try {
      const text = (await this.main().innerText({ timeout: 2_000 })).slice(0, 3_000);
      return [
        `--- page ${this.label}: ${this.page.url()}`,
        `  status line: ${await this.statusLine().innerText({ timeout: 1_000 })}`,
        ...text.split("\n").map((l) => `  | ${l}`),
      ];
    } catch (err) {
      return [`--- page ${this.label}: ${this.page.url()} (not readable: ${(err as Error).message})`];
    }
  }
}

/** Polls until `read()` satisfies `check` (Playwright's web-first assertions, without its runner). */
export async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  check: (v: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const until = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (check(last)) return last;
    if (Date.now() > until) {
      expect.fail(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
