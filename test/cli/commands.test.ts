// Every `sipext` resource command (CONTRACT §16) against a real database, through the program
// the binary runs (in this process: test/helpers/cli.ts runInProcess), and the binary itself for
// what only a process shows: --version, exit codes 1 and 2, JSON when stdout is a pipe.
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { postgresBus } from "../../src/deployment-bus.js";
import { type Core, openCore } from "../../src/main.js";
import type { Binding } from "../../src/sip/registrar/location-store.js";
import { formatMicros } from "../../src/util/time.js";
import { lines, type Run, run, runInProcess } from "../helpers/cli.js";
import { DATABASES, dropSchema, newSchemaUrl, removeDir } from "../helpers/harness.js";

const json = <T>(r: Run): T => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};
interface Ext {
  id: string;
  extension: string;
  name: string;
  detail: string;
  password: string;
  direct_hash: string;
  tm_delete: string;
}

/** Opens the database as the CLI would (to set up what only SIP traffic makes: bindings, bans). */
async function core(env: Record<string, string>): Promise<Core> {
  return openCore(loadConfig({ ...env }));
}

describe.each(DATABASES)("sipext commands on %s", (kind) => {
  const dir = mkdtempSync(join(tmpdir(), "sipext-commands-"));
  const env: Record<string, string> = { SIPEXT_DATA_DIR: dir };
  if (kind === "postgres") env.DATABASE_URL = newSchemaUrl();
  const cli = (...args: string[]) => runInProcess(args, env);
  let customer = "";
  let other = "";

  beforeAll(async () => {
    const a = json<{ customer: { id: string } }>(await cli("customers", "create", "--name", "Acme"));
    const b = json<{ customer: { id: string } }>(await cli("customers", "create", "--name", "Other"));
    customer = a.customer.id;
    other = b.customer.id;
  }, 60_000);
  afterAll(async () => {
    await dropSchema(env.DATABASE_URL);
    removeDir(dir);
  });

  it("customers list shows every customer, newest first", async () => {
    const out = json<{ result: Array<{ id: string; name: string }> }>(await cli("customers", "list"));
    expect(out.result.map((c) => c.id)).toEqual([other, customer]);
  });

  it("extensions create, get, update, regenerate, list and delete through the service", async () => {
    const c = ["--customer-id", customer];
    const made = json<Ext>(await cli("extensions", "create", ...c, "--extension", "200", "--name", "Desk"));
    expect(made).toMatchObject({ extension: "200", name: "Desk", tm_delete: "" });
    expect(made.password).toMatch(/^[\x21-\x7e]{16,}$/);
    expect(json<Ext>(await cli("extensions", "get", ...c, made.id)).password).toBe(made.password);

    const updated = json<Ext>(
      await cli(
        "extensions",
        "update",
        ...c,
        made.id,
        "--detail",
        "by the door",
        "--password",
        "New-pass-200",
      ),
    );
    expect(updated).toMatchObject({ name: "Desk", detail: "by the door", password: "New-pass-200" });
    const regenerated = json<Ext>(await cli("extensions", "regenerate", ...c, made.id));
    expect(regenerated.direct_hash).toMatch(/^[0-9a-f]{12}$/);
    expect(regenerated.direct_hash).not.toBe(made.direct_hash);

    const listed = json<{ result: Ext[]; next_page_token: string }>(await cli("extensions", "list", ...c));
    expect(listed.result.map((e) => e.id)).toEqual([made.id]);
    expect(listed.next_page_token).not.toBe("");
    // Another customer does not see it.
    const foreign = await cli("extensions", "get", "--customer-id", other, made.id);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toBe("sipext: extension not found\n");

    const deleted = json<Ext>(await cli("extensions", "delete", ...c, made.id));
    expect(deleted.tm_delete).not.toBe("");
    expect(json<{ result: Ext[] }>(await cli("extensions", "list", ...c)).result).toEqual([]);
    // The service's events were written, as the API's would be.
    const k = await core(env);
    try {
      const events = await k.stores.events.listAfter(customer, { after: 0, limit: 100, types: [] });
      expect(events.map((e) => e.type)).toEqual([
        "extension_created",
        "extension_updated",
        "extension_updated",
        "extension_deleted",
      ]);
    } finally {
      await k.close();
    }
  });

  it("refuses what the API refuses, with the field on one line (exit 1)", async () => {
    const c = ["--customer-id", customer];
    const bad = await cli("extensions", "create", ...c, "--extension", "has space");
    expect(bad.code).toBe(1);
    expect(lines(bad.stderr)).toEqual([expect.stringMatching(/^sipext: extension: must be 1-40 characters/)]);
    const short = await cli("extensions", "update", ...c, randomUUID(), "--password", "short");
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^sipext: password: must be 8-80/);
    const noCustomer = await cli("extensions", "list", "--customer-id", randomUUID());
    expect(noCustomer.code).toBe(1);
    expect(noCustomer.stderr).toBe("sipext: customer not found\n");
    const notUuid = await cli("users", "list", "--customer-id", "acme");
    expect(notUuid.code).toBe(1);
    expect(notUuid.stderr).toBe('sipext: customer_id: must be a UUID, got "acme"\n');
    expect((await cli("extensions", "create", ...c, "--extension", "201", "--colour", "red")).code).toBe(2);
    expect((await cli("extensions", "export", ...c, "--format", "xml")).code).toBe(2);
  });

  it("prints a table on a terminal", async () => {
    json<Ext>(
      await cli("extensions", "create", "--customer-id", other, "--extension", "300", "--name", "Hall"),
    );
    const r = await runInProcess(["extensions", "list", "--customer-id", other], env, { tty: true });
    expect(r.code).toBe(0);
    const [head, row] = r.stdout.split("\n");
    expect(head).toMatch(/^ID +EXTENSION +NAME +DIRECT_HASH +PASSWORD +TM_CREATE$/);
    expect(row).toMatch(/^[0-9a-f-]{36} +300 +Hall +[0-9a-f]{12} /);
    const asJson = await runInProcess(["extensions", "list", "--customer-id", other, "--json"], env, {
      tty: true,
    });
    expect(JSON.parse(asJson.stdout).result).toHaveLength(1);
  });

  it("contacts list and unregister an extension's registrations", async () => {
    const ext = json<Ext>(await cli("extensions", "create", "--customer-id", customer, "--extension", "400"));
    const now = Date.now() * 1000;
    const binding: Binding = {
      contact: "sip:400@192.0.2.7:5062",
      instanceId: "",
      regId: undefined,
      q: undefined,
      path: [],
      node: "",
      nodeAddress: "",
      expires: 3600,
      expireAt: now + 3600e6,
      createdAt: now,
      updatedAt: now,
      receivedIp: "192.0.2.7",
      receivedPort: 5062,
      transport: "UDP",
      userAgent: "desk phone 1.0",
      callId: "call-1",
      cseq: 1,
    };
    const k = await core(env);
    await k.locationStore.apply([
      { op: "upsert", extensionId: ext.id, customerId: customer, binding, added: true },
    ]);
    await k.close();
    const c = ["--customer-id", customer, ext.id];
    const listed = json<{ result: Array<{ uri: string; source: string }> }>(
      await cli("contacts", "list", ...c),
    );
    expect(listed.result).toEqual([
      expect.objectContaining({
        uri: binding.contact,
        source: "192.0.2.7:5062",
        user_agent: "desk phone 1.0",
      }),
    ]);
    const removed = json<{ result: Array<{ uri: string }> }>(await cli("contacts", "unregister", ...c));
    expect(removed.result.map((x) => x.uri)).toEqual([binding.contact]);
    expect(json<{ result: unknown[] }>(await cli("contacts", "list", ...c)).result).toEqual([]);
    const after = await core(env);
    try {
      expect(
        (await after.locationStore.loadLive(Date.now() * 1000)).filter((b) => b.extensionId === ext.id),
      ).toEqual([]);
    } finally {
      await after.close();
    }
  });

  // Skipped on SQLite for a reason: there the deployment is one node and has no bus to tell.
  it.runIf(kind === "postgres")(
    "tells the running nodes over the deployment bus of registrations ended and bans lifted",
    async () => {
      // A node of the deployment, listening as servers do (CONTRACT §15).
      const heard: Array<[string, string]> = [];
      const bus = await postgresBus(env.DATABASE_URL as string, (err) => {
        throw err;
      });
      for (const topic of ["loc-changes", "unban"])
        bus.subscribe(topic, (payload) => heard.push([topic, payload]));
      try {
        const ext = json<Ext>(
          await cli("extensions", "create", "--customer-id", customer, "--extension", "450"),
        );
        const k = await core(env);
        const now = Date.now() * 1000;
        const binding: Binding = {
          contact: "sip:450@192.0.2.8:5060",
          instanceId: "",
          regId: undefined,
          q: undefined,
          path: [],
          node: "another-node",
          nodeAddress: "192.0.2.1:5060",
          expires: 600,
          expireAt: now + 600e6,
          createdAt: now,
          updatedAt: now,
          receivedIp: "192.0.2.8",
          receivedPort: 5060,
          transport: "UDP",
          userAgent: "ua",
          callId: "c-450",
          cseq: 1,
        };
        await k.locationStore.apply([
          { op: "upsert", extensionId: ext.id, customerId: customer, binding, added: true },
        ]);
        const banId = randomUUID();
        await k.stores.sipBans.insert({
          id: banId,
          source: "203.0.113.5",
          customer_id: customer,
          extension_id: ext.id,
          failures: 10,
          tm_create: formatMicros(now),
          tm_expire: formatMicros(now + 600e6),
        });
        await k.close();
        json(await cli("contacts", "unregister", "--customer-id", customer, ext.id));
        json(await cli("sip-bans", "lift", "--customer-id", customer, banId));
        for (let waited = 0; heard.length < 2 && waited < 5000; waited += 50)
          await new Promise((r) => setTimeout(r, 50));
        expect(heard).toEqual(
          expect.arrayContaining([
            ["loc-changes", JSON.stringify([["rm-all", ext.id]])],
            ["unban", "203.0.113.5"],
          ]),
        );
      } finally {
        await bus.close();
      }
    },
  );

  it("sip-bans list and lift", async () => {
    const ext = json<Ext>(await cli("extensions", "create", "--customer-id", customer, "--extension", "500"));
    const id = randomUUID();
    const now = Date.now() * 1000;
    const k = await core(env);
    await k.stores.sipBans.insert({
      id,
      source: "198.51.100.9",
      customer_id: customer,
      extension_id: ext.id,
      failures: 10,
      tm_create: formatMicros(now),
      tm_expire: formatMicros(now + 600e6),
    });
    await k.close();
    const listed = json<{ result: Array<{ id: string; source: string }> }>(
      await cli("sip-bans", "list", "--customer-id", customer),
    );
    expect(listed.result).toEqual([expect.objectContaining({ id, source: "198.51.100.9", failures: 10 })]);
    expect((await cli("sip-bans", "list", "--customer-id", other)).stdout).toContain('"result": []');
    expect(
      json<{ result: Array<{ id: string }> }>(await cli("sip-bans", "lift", "--customer-id", customer, id))
        .result[0]?.id,
    ).toBe(id);
    expect(
      json<{ result: unknown[] }>(await cli("sip-bans", "list", "--customer-id", customer)).result,
    ).toEqual([]);
    const again = await cli("sip-bans", "lift", "--customer-id", customer, id);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("sipext: sip_ban not found\n");
  });

  it("users list and reset-password (the new password logs in, the old one does not)", async () => {
    const username = `ops-${kind}`;
    const made = await cli(
      "users",
      "create",
      "--customer-id",
      customer,
      "--username",
      username,
      "--password",
      "first-pass-1",
      "--role",
      "manager",
    );
    expect(made.code, made.stderr).toBe(0);
    const users = json<{ result: Array<{ username: string; role: string }> }>(
      await cli("users", "list", "--customer-id", customer),
    );
    expect(users.result).toEqual([expect.objectContaining({ username, role: "manager" })]);
    expect(json<{ result: unknown[] }>(await cli("users", "list", "--customer-id", other)).result).toEqual(
      [],
    );
    const reset = json<{ user: { username: string }; password: string }>(
      await cli("users", "reset-password", "--username", username),
    );
    expect(reset.user.username).toBe(username);
    const k = await core(env);
    try {
      await expect(k.services.auth.login(username, "first-pass-1")).rejects.toThrow();
      expect((await k.services.auth.login(username, reset.password)).username).toBe(username);
    } finally {
      await k.close();
    }
    const missing = await cli("users", "reset-password", "--username", "nobody-here");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('sipext: username: no user "nobody-here"\n');
  });

  it("accesskeys create, list (never the token) and revoke", async () => {
    const c = ["--customer-id", customer];
    const key = json<{ id: string; token: string }>(await cli("accesskeys", "create", ...c, "--name", "ci"));
    const listed = await cli("accesskeys", "list", ...c);
    expect(json<{ result: Array<{ id: string }> }>(listed).result.map((x) => x.id)).toEqual([key.id]);
    expect(listed.stdout).not.toContain(key.token);
    const revoked = json<{ id: string; tm_delete: string }>(await cli("accesskeys", "revoke", ...c, key.id));
    expect(revoked.tm_delete).not.toBe("");
    const k = await core(env);
    try {
      expect(await k.services.accessKeys.authenticate(key.token)).toBeUndefined();
    } finally {
      await k.close();
    }
    expect((await cli("accesskeys", "revoke", ...c, key.id)).code).toBe(1);
  });
});

describe("the sipext binary", () => {
  const dir = mkdtempSync(join(tmpdir(), "sipext-binary-"));
  afterAll(() => removeDir(dir));

  it("prints package.json's version, exits 2 on a usage error and 1 on a refusal", async () => {
    const env = { SIPEXT_DATA_DIR: dir };
    const [version, usage, refused] = await Promise.all([
      run(["--version"], env),
      run(["extensions", "list"], env),
      run(["extensions", "get", "--customer-id", randomUUID(), randomUUID()], env),
    ]);
    const { version: expected } = (await import("../../package.json", { with: { type: "json" } })).default;
    expect(version).toMatchObject({ code: 0, stdout: `${expected}\n` });
    expect(usage.code).toBe(2);
    expect(lines(usage.stderr)).toEqual(["error: required option '--customer-id <id>' not specified"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe("sipext: customer not found\n");
    expect(refused.stdout).toBe("");
  }, 60_000);
});
