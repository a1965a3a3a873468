// The web console (src/console/, served at /) in Chromium (issue #14), driven as a person uses it:
// through its labels, roles and button names (./console-page.ts). What is checked:
//
// - the extension's life: log in, create one (its generated password shown once, and the API's),
//   filter the list, a SIP phone (a RawPhone over UDP) registers and its contact appears in the
//   list and on the extension's page without a reload (the event stream), with a countdown and an
//   announcement in the live region, and goes when it unregisters; edit, regenerate the direct
//   hash (the new URI shown and copied to the clipboard), delete, log out (the cookie is gone);
// - a registration heard on the event stream while that extension's contacts were being read is
//   not overwritten by the older answer (it made the screenshot test below flaky under load);
// - the web phone: registers as an extension over ws://<host>/sip, calls a JsSIP softphone page
//   (./browser.ts) that answers (WebRTC connected on both sides), keeps the call while the calls
//   page shows it, hangs up; answers the softphone's call and declines the next one (486);
// - access keys (the token shown once works, revoked stops) and SIP bans (lifted from the page);
// - the webhook: set, its secret drawn (shown once; a real receiver checks the signatures), the
//   delivery log showing a delivered and a failed attempt, removed;
// - over HTTPS (self-signed, its key trusted): the cookie is Secure, the web phone uses wss://;
// - every field labelled, the menu reachable by keyboard, no sideways scrolling on a phone-sized
//   screen, no Content-Security-Policy violation, and the screenshot the README shows.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Contact } from "../../src/contract/contact.js";
import { client, DATABASES } from "../helpers/harness.js";
import { startReceiver } from "../helpers/webhook-receiver.js";
import { browserSuite } from "./browser.js";
import { ConsolePage, eventually } from "./console-page.js";
import type { Ext } from "./phones.js";
import { firstLine, RawPhone, udpChannel } from "./raw-phone.js";

const SCREENSHOT = fileURLToPath(new URL("../../docs/console.png", import.meta.url));
/** HTTPS and WSS with a self-signed certificate, whose key alone Chromium is told to trust. */
const TLS_ENV = { SIPEXT_TLS_SELF_SIGNED: "true", SIPEXT_HTTPS_PORT: "0", SIPEXT_SIP_TLS_PORT: "0" };

describe.each(DATABASES)("web console in Chromium on %s", (kind) => {
  const s = browserSuite(
    kind,
    { SIPEXT_SIP_BAN_FAILURES: "3", SIPEXT_WEBHOOK_ALLOW_PRIVATE: "true", ...TLS_ENV },
    () => [s.h.server.tlsCertificatePem ?? ""],
  );

  async function loggedIn(label = "console", viewport?: { width: number; height: number }) {
    const con = await ConsolePage.open(s.browsers, label, s.h.url, viewport);
    await con.login(s.h.admin.username, s.h.admin.password);
    return con;
  }

  /** A UDP phone of `e` (from `local`), stopped after the test. */
  async function rawPhone(e: Ext, o: { userAgent?: string; local?: string; password?: string } = {}) {
    const sipPort = s.h.server.sip.port;
    const phone = await RawPhone.open(
      {
        sipPort,
        domain: s.h.admin.domainName,
        ext: e.ext,
        password: o.password ?? e.password,
        headers: o.userAgent ? [`User-Agent: ${o.userAgent}`] : [],
      },
      await udpChannel(sipPort, o.local),
    );
    s.phones.add({
      log: () => `--- raw phone ${e.ext}\n${phone.got.join("\n---\n")}`,
      stop: () => phone.close(),
    });
    return phone;
  }

  const contactsOf = (id: string) => s.contactsOf(id) as Promise<Contact[]>;

  it("every field is labelled, the keyboard reaches the menu, a phone-sized screen does not scroll sideways; the README's screenshot", async ({
    annotate,
  }) => {
    const named = [
      ["201", "Front desk"],
      ["202", "Sales"],
      ["203", "Support"],
    ] as const;
    const exts: Ext[] = [];
    for (const [ext, name] of named) {
      const password = s.h.secret(`Pw-${randomBytes(6).toString("hex")}`);
      const res = await s.api.post("/v1.0/extensions", { extension: ext, name, password });
      expect(res.status).toBe(200);
      exts.push({ id: res.body.id as string, ext, password, hash: res.body.direct_hash as string });
    }
    const con = await ConsolePage.open(s.browsers, "console", s.h.url);
    await s.explain(async () => {
      await con.heading().filter({ hasText: "Log in" }).waitFor();
      expect(await con.unlabelled(), "the login form").toEqual([]);
      await con.login(s.h.admin.username, s.h.admin.password);
      for (const [e, ua] of [
        [exts[0], "Yealink SIP-T46U 66.86.0.15"],
        [exts[1], "Linphone-Desktop/5.2.6"],
      ] as const) {
        if (!e) continue;
        expect(firstLine(await (await rawPhone(e, { userAgent: ua })).registerWithDigest())).toBe(
          "SIP/2.0 200 OK",
        );
      }
      await eventually(
        "two registered extensions in the list",
        () => con.main().getByText("1 device").count(),
        (n) => n === 2,
        // Seen once over 10 s in CI on PostgreSQL (not reproduced since): 20 s before failing.
        20_000,
      );
      const shot =
        kind === DATABASES[0] && (!existsSync(SCREENSHOT) || process.env.SIPEXT_UPDATE_DOCS === "1");
      const path = shot ? SCREENSHOT : join(s.browsers.shots, `console-${kind}.png`);
      await con.page.screenshot({ path, fullPage: true });
      await annotate("the extensions page", { path, contentType: "image/png" });

      // Keyboard: after a reload (still logged in: the cookie), the first Tab reaches the skip
      // link, more Tabs the menu; Enter follows a link.
      await con.page.reload();
      await con.main().getByText("1 device").first().waitFor();
      await con.page.keyboard.press("Tab");
      expect(await con.page.evaluate("document.activeElement.textContent")).toBe("Skip to the content");
      for (
        let i = 0;
        i < 6 && (await con.page.evaluate("document.activeElement.textContent")) !== "Calls";
        i++
      )
        await con.page.keyboard.press("Tab");
      await con.page.keyboard.press("Enter");
      await con.heading().filter({ hasText: "Recent calls" }).waitFor();

      await con.page.setViewportSize({ width: 375, height: 740 });
      const pages = [
        ["Extensions", "Extensions"],
        ["Calls", "Recent calls"],
        ["SIP bans", "SIP bans"],
        ["Access keys", "Access keys"],
        ["Webhooks", "Webhooks"],
        ["Web phone", "Web phone"],
      ] as const;
      for (const [link, heading] of pages) {
        await con.menu(link);
        await con.heading().filter({ hasText: heading }).waitFor();
        if (link === "Extensions") await con.button("New extension").click();
        expect(await con.unlabelled(), `the fields of ${link}`).toEqual([]);
        expect(await con.overflowsSideways(), `${link} on a phone-sized screen`).toBe(false);
      }
      await con.menu("Extensions");
      await con.main().getByRole("link", { name: "201" }).click();
      await con.heading().filter({ hasText: "Extension 201" }).waitFor();
      await con.main().getByRole("cell", { name: "Yealink SIP-T46U 66.86.0.15" }).waitFor();
      expect(await con.unlabelled(), "the extension's page").toEqual([]);
      expect(await con.overflowsSideways(), "the extension's page on a phone-sized screen").toBe(false);
      expect(con.cspViolations()).toEqual([]);
    }, annotate);
  });

  it("keeps a registration it heard while that extension's contacts were on their way (the read is redone)", async () => {
    const e = await s.extension("race");
    const con = await ConsolePage.open(s.browsers, "console-race", s.h.url);
    // The list's first read of e's contacts is answered as read, but only once the page has heard
    // the registration that came after it: a slow answer older than the event it arrives after.
    let heard: () => void = () => {};
    const eventHeard = new Promise<void>((resolve) => {
      heard = resolve;
    });
    let held = 0;
    await con.page.route(`**/v1.0/extensions/${e.id}/contacts`, async (route) => {
      const response = await route.fetch();
      if (held++ === 0) await eventHeard;
      await route.fulfill({ response });
    });
    await s.explain(async () => {
      await con.login(s.h.admin.username, s.h.admin.password);
      await eventually(
        "the list's read of the contacts",
        async () => held,
        (n) => n >= 1,
        10_000,
      );
      const phone = await rawPhone(e, { userAgent: "race-phone/1.0" });
      expect(firstLine(await phone.registerWithDigest())).toBe("SIP/2.0 200 OK");
      await con.page
        .locator("#live")
        .getByText(`Extension ${e.ext} registered: race-phone/1.0`, { exact: false })
        .waitFor({ state: "attached" });
      heard();
      // The stale answer is not taken: the contacts are read again, and the device stays listed.
      await eventually(
        "the contacts read again",
        async () => held,
        (n) => n >= 2,
        10_000,
      );
      const row = con.main().getByRole("row").filter({ hasText: e.ext });
      await row.getByText("1 device").waitFor();
      await con.page.waitForTimeout(300);
      expect(await row.getByText("1 device").count()).toBe(1);
    });
  });

  it("creates an extension (password shown once), shows a phone's registration live, regenerates the direct URI, deletes it, logs out", async ({
    annotate,
  }) => {
    const other = await s.extension("other");
    const con = await loggedIn();
    await s.explain(async () => {
      const ext = `c${randomBytes(3).toString("hex")}`;
      await con.button("New extension").click();
      const form = con.main().getByRole("form", { name: "New extension" });
      await form.getByLabel("Extension").fill(ext);
      await form.getByLabel("Name").fill("Reception");
      await form.getByRole("button", { name: "Create" }).click();
      const secret = con.main().getByRole("region", { name: `Password of extension ${ext}` });
      const password = s.h.secret(await secret.locator("code").innerText());
      expect(password).toMatch(/^[\x21-\x7e]{8,80}$/);
      const listed = await s.api.get<{ result: Array<Record<string, string>> }>("/v1.0/extensions");
      const created = listed.body.result.find((x) => x.extension === ext);
      expect(created?.password).toBe(password);
      const id = created?.id ?? "";
      await con.button("Hide", secret).click();
      await secret.waitFor({ state: "detached" });

      const row = con.main().getByRole("row").filter({ hasText: ext });
      await row.getByText("not registered").waitFor();
      // The filter keeps the rows that match among those loaded.
      await con.page.getByLabel("Filter the loaded extensions").fill(ext);
      await con.main().getByRole("row").filter({ hasText: other.ext }).waitFor({ state: "hidden" });
      expect(await row.isVisible()).toBe(true);
      await con.page.getByLabel("Filter the loaded extensions").fill("");

      // A phone registers: its contact shows in the row without a reload.
      const mark = await con.mark();
      const phone = await rawPhone({ id, ext, password, hash: "" }, { userAgent: "console-test-phone/1.0" });
      expect(firstLine(await phone.registerWithDigest())).toBe("SIP/2.0 200 OK");
      await row.getByText("1 device").waitFor();
      const device = await row.getByRole("listitem").innerText();
      expect(device).toContain(`UDP · console-test-phone/1.0 · 127.0.0.1:${phone.port}`);
      expect(device).toMatch(/· (9|10):\d\d$/);
      await con.page
        .locator("#live")
        .getByText(
          `Extension ${ext} registered: console-test-phone/1.0 from 127.0.0.1:${phone.port} over UDP`,
        )
        .waitFor({ state: "attached" });
      expect(await con.sameDocument(mark)).toBe(true);

      // Its page lists the device; it goes when the phone unregisters.
      await con.main().getByRole("link", { name: ext }).click();
      await con
        .heading()
        .filter({ hasText: `Extension ${ext}` })
        .waitFor();
      await con
        .main()
        .getByRole("cell", { name: `sip:${ext}@127.0.0.1:${phone.port}` })
        .waitFor();
      expect(firstLine(await phone.registerWithDigest(["Expires: 0"]))).toBe("SIP/2.0 200 OK");
      await con.main().getByText("No device is registered").waitFor();
      await con.page
        .locator("#live")
        .getByText(`Extension ${ext} unregistered (device)`)
        .waitFor({ state: "attached" });
      expect(await con.sameDocument(mark)).toBe(true);

      // Edit: a new name.
      const edit = con.main().getByRole("form", { name: "Edit" });
      await edit.getByLabel("Name").fill("Reception desk");
      await edit.getByRole("button", { name: "Save" }).click();
      await con.statusLine().getByText(`Extension ${ext} saved.`).waitFor();
      expect((await s.api.get(`/v1.0/extensions/${id}`)).body.name).toBe("Reception desk");

      // Regenerate: the new URI shows, and its copy button puts it in the clipboard.
      const uri = con.main().getByTestId("direct-uri");
      const before = await uri.innerText();
      expect(before).toBe(`sip:direct.${created?.direct_hash}@sip.localhost`);
      await con.button("Regenerate").click();
      await con.confirm("Regenerate");
      const after = await eventually(
        "a new direct URI",
        () => uri.innerText(),
        (v) => v !== before,
      );
      const fresh = await s.api.get(`/v1.0/extensions/${id}`);
      expect(after).toBe(`sip:direct.${fresh.body.direct_hash}@sip.localhost`);
      await con.button(`Direct URI of ${ext}`).click();
      expect(await con.clipboard()).toBe(after);

      // Provisioning link (CONTRACT §17): its QR code (an image that loaded) and URL, which works
      // until revoked from the page.
      await con.button("Provisioning link").click();
      const linkUrl = await con.main().getByTestId("provisioning-url").innerText();
      expect(linkUrl).toMatch(new RegExp(`^${s.h.url}/provisioning/extension\\?token=sxp_`));
      s.h.secret(new URL(linkUrl).searchParams.get("token") ?? "");
      const qr = con.main().getByTestId("provisioning-qr");
      expect(
        await qr.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
      ).toBeGreaterThan(0);
      expect((await fetch(`${linkUrl}&format=json`)).status).toBe(200);
      await con.button("Revoke").click();
      await con.main().getByText("The link was revoked").waitFor();
      expect((await fetch(linkUrl)).status).toBe(404);

      // Delete: back to the list, without it.
      await con.button("Delete extension").click();
      await con.confirm("Delete");
      await con
        .heading()
        .filter({ hasText: /^Extensions$/ })
        .waitFor();
      await con.statusLine().getByText(`Extension ${ext} deleted.`).waitFor();
      await con.main().getByRole("row").filter({ hasText: other.ext }).waitFor();
      expect(await con.main().getByRole("row").filter({ hasText: ext }).count()).toBe(0);
      expect((await s.api.get(`/v1.0/extensions/${id}`)).body.tm_delete).not.toBe("");

      // Log out: the login form, and the cookie is gone.
      await con.page.getByRole("button", { name: "Log out" }).click();
      await con.heading().filter({ hasText: "Log in" }).waitFor();
      expect((await con.page.request.get(`${s.h.url}/v1.0/me`)).status()).toBe(401);
      expect(con.cspViolations()).toEqual([]);
    }, annotate);
  });

  it("the web phone registers, calls a browser softphone that answers, answers its call and declines the next", async ({
    annotate,
  }) => {
    const [a, b] = await Promise.all([s.extension("wp"), s.extension("sp")]);
    const domain = s.h.admin.domainName;
    const con = await loggedIn();
    const softB = await s.browsers.open("B");
    await s.explain(async () => {
      await softB.start({
        wsUrl: `ws://127.0.0.1:${s.h.server.httpPort}/sip`,
        ext: b.ext,
        domain,
        username: b.ext,
        password: b.password,
      });
      await softB.until("B registered", (snap) => snap.registered);

      await con.menu("Web phone");
      // A wrong password: the phone says registration failed.
      await con.registerPhone(a.ext, "not-the-password");
      await con.phoneStatus(/^Registration failed: /).waitFor({ timeout: 15_000 });
      await con.registerPhone(a.ext, a.password);
      await con.phoneStatus(`Registered as ${a.ext}`).waitFor({ timeout: 15_000 });
      await s.registered(a);
      const [contact] = await contactsOf(a.id);
      expect(contact?.transport).toBe("WS");
      expect(contact?.user_agent).toMatch(/^sipext console \(JsSIP 3\.\d+\.\d+\)$/);

      // The web phone calls B, which answers: WebRTC connects both ways.
      await con.page.getByLabel("Extension or SIP address").fill(b.ext);
      await con.button("Call").click();
      const inc = await softB.incoming();
      expect(inc.from).toBe(`sip:${a.ext}@${domain}`);
      await softB.answer(inc.id);
      await softB.callWhen(inc.id, "media connected", (c) => c.connectionState === "connected", 15_000);
      const panel = con.page.locator(".call");
      await eventually(
        "the web phone in the call",
        () => panel.getAttribute("data-state"),
        (v) => v === "in-call",
      );
      await eventually(
        "media connected",
        () => panel.getAttribute("data-media"),
        (v) => v === "connected",
        15_000,
      );

      // The calls page shows it answered; the call goes on meanwhile.
      await con.menu("Calls");
      const callRow = con
        .main()
        .getByRole("row")
        .filter({ hasText: `sip:${b.ext}@${domain}` });
      await callRow.getByText("answered").waitFor();
      await con.menu("Web phone");
      expect(await panel.getAttribute("data-state")).toBe("in-call");
      await con.button("Hang up").click();
      await softB.callWhen(inc.id, "ended by the web phone", (c) => c.ended?.how === "ended");
      await con.page.getByTestId("call-status").getByText(`Call with sip:${b.ext}@${domain} ended`).waitFor();

      // B calls the web phone, which answers.
      const out = await softB.call(`sip:${a.ext}@${domain}`);
      await con.main().getByText(`Incoming call from sip:${b.ext}@${domain}`).waitFor();
      await con.button("Answer").click();
      await softB.callWhen(out, "media connected", (c) => c.connectionState === "connected", 15_000);
      await eventually(
        "media connected",
        () => panel.getAttribute("data-media"),
        (v) => v === "connected",
        15_000,
      );
      await softB.hangup(out);
      await eventually(
        "the call ended",
        () => panel.getAttribute("data-state"),
        (v) => v === "ended",
      );

      // And declines the next: B hears 486.
      const declined = await softB.call(`sip:${a.ext}@${domain}`);
      await con.button("Decline").click();
      const failed = await softB.callWhen(declined, "declined", (c) => c.ended !== undefined);
      expect(failed.ended).toMatchObject({ how: "failed", status: 486 });
      expect(con.cspViolations()).toEqual([]);
    }, annotate);
  });

  it("creates an access key (its token shown once works), revokes it, and lifts a SIP ban", async ({
    annotate,
  }) => {
    const con = await loggedIn();
    const target = await s.extension("ban");
    await s.explain(async () => {
      await con.menu("Access keys");
      const name = `ci-${randomBytes(2).toString("hex")}`;
      const form = con.main().getByRole("form", { name: "New access key" });
      await form.getByLabel("Name").fill(name);
      await form.getByRole("button", { name: "Create" }).click();
      const secret = con.main().getByRole("region", { name: `Token of access key ${name}` });
      const token = s.h.secret(await secret.locator("code").innerText());
      expect(token).toMatch(/^sxk_/);
      expect((await client(s.h.url, token).get("/v1.0/me")).status).toBe(200);
      await con.button(`Revoke access key ${name}`).click();
      await con.confirm("Revoke");
      await con.main().getByRole("row").filter({ hasText: name }).waitFor({ state: "detached" });
      expect((await client(s.h.url, token).get("/v1.0/me")).status).toBe(401);

      // A guesser at 127.0.0.9 is banned after 3 wrong answers; the page shows it live.
      await con.menu("SIP bans");
      await con.main().getByText("No source is banned.").waitFor();
      const guesser = await rawPhone(target, { local: "127.0.0.9", password: "wrong-password" });
      for (let i = 0; i < 3; i++)
        expect(firstLine(await guesser.registerWithDigest())).toBe("SIP/2.0 401 Unauthorized");
      const banRow = con.main().getByRole("row").filter({ hasText: "127.0.0.9" });
      await banRow.waitFor();
      await con.button("Lift the ban of 127.0.0.9").click();
      await con.confirm("Lift");
      await banRow.waitFor({ state: "detached" });
      const bans = await s.api.get<{ result: Array<{ source: string }> }>("/v1.0/sip-bans");
      expect(bans.body.result.map((x) => x.source)).not.toContain("127.0.0.9");
      expect(con.cspViolations()).toEqual([]);
    }, annotate);
  });

  it("sets the webhook, draws its secret (shown once), shows delivered and failed attempts, removes it", async ({
    annotate,
  }) => {
    const rx = await startReceiver();
    rx.answer = (r) => (r.path === "/fail" ? 500 : 200);
    s.phones.add({ log: () => `--- webhook receiver: ${rx.all.length} requests`, stop: () => rx.close() });
    const con = await loggedIn();
    await s.explain(async () => {
      await con.menu("Webhooks");
      const form = con.main().getByRole("form", { name: "Webhook" });
      await form.getByLabel("Address").fill(`${rx.url}/hook`);
      await form.getByLabel("Method").selectOption("POST");
      await form.getByRole("button", { name: "Save" }).click();
      await con.statusLine().getByText(`Webhook saved: ${rx.url}/hook`).waitFor();
      expect((await s.api.get("/v1.0/customer")).body).toMatchObject({
        webhook_uri: `${rx.url}/hook`,
        webhook_method: "POST",
      });

      await con.button("Draw a new secret").click();
      await con.confirm("Draw");
      const panel = con.main().getByRole("region", { name: "Webhook signing secret" });
      const secret = s.h.secret(await panel.locator("code").innerText());
      expect(secret).toMatch(/^whsec_/);
      rx.secrets.set("/hook", secret);
      rx.secrets.set("/fail", secret);

      // An event: delivered, signed with that secret; the log shows it without a reload.
      const e = await s.extension("hook");
      await rx.until(
        () => rx.accepted("/hook").some((r) => r.event.data.id === e.id),
        15_000,
        "the delivery",
      );
      expect(rx.accepted("/hook").every((r) => r.signed)).toBe(true);
      const log = con.main().getByRole("region", { name: "Delivery attempts, newest first" });
      await log
        .getByRole("row")
        .filter({ hasText: "extension_created" })
        .getByText("delivered")
        .waitFor({ timeout: 15_000 });

      // A receiver answering 500: the attempt shows as failed, with its status.
      await form.getByLabel("Address").fill(`${rx.url}/fail`);
      await form.getByRole("button", { name: "Save" }).click();
      await con.statusLine().getByText(`Webhook saved: ${rx.url}/fail`).waitFor();
      await s.api.put(`/v1.0/extensions/${e.id}`, { name: "hooked" });
      const failed = log
        .getByRole("row")
        .filter({ hasText: "extension_updated" })
        .filter({ hasText: "failed" });
      await failed.first().waitFor({ timeout: 15_000 });
      expect(await failed.first().innerText()).toContain("500");

      await con.button("Remove webhook").click();
      await con.confirm("Remove");
      await con.statusLine().getByText("Webhook removed.").waitFor();
      expect((await s.api.get("/v1.0/customer")).body.webhook_uri).toBe("");
      expect(await con.main().getByLabel("Address").inputValue()).toBe("");
      expect(con.cspViolations()).toEqual([]);
    }, annotate);
  });

  it("over HTTPS: logs in (a Secure cookie) and the web phone registers over wss://", async ({
    annotate,
  }) => {
    const a = await s.extension("tls");
    const httpsUrl = `https://127.0.0.1:${s.h.server.httpsPort}`;
    const con = await ConsolePage.open(s.browsers, "console over https", httpsUrl);
    await s.explain(async () => {
      await con.login(s.h.admin.username, s.h.admin.password);
      const [cookie] = await con.page.context().cookies(httpsUrl);
      expect(cookie).toMatchObject({ name: "token", httpOnly: true, secure: true, sameSite: "Strict" });
      await con.menu("Web phone");
      await con.registerPhone(a.ext, a.password);
      await con.phoneStatus(`Registered as ${a.ext}`).waitFor({ timeout: 15_000 });
      await s.registered(a);
      expect((await contactsOf(a.id))[0]?.transport).toBe("WSS");
      expect(con.frames[0]?.url).toBe(`wss://127.0.0.1:${s.h.server.httpsPort}/sip`);
      expect(con.cspViolations()).toEqual([]);
    }, annotate);
  });
});
