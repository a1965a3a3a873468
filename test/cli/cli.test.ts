// The `sipext` command (CONTRACT §2): configuration errors, first start, graceful shutdown, and the
// tenant/user/access-key commands, run as real child processes against a real database.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, type Run, run, serve } from "../helpers/cli.js";
import {
  client,
  DATABASES,
  type DbKind,
  dropSchema,
  type Harness,
  newSchemaUrl,
  removeDir,
  startHarness,
} from "../helpers/harness.js";

describe("invalid configuration", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "sipext-cli-"));
  });
  afterAll(() => removeDir(dataDir));

  it.each([
    ["SIPEXT_HTTP_PORT", "abc"],
    ["SIPEXT_HTTP_PORT", "70000"],
    ["SIPEXT_SIP_PORT", "-1"],
    ["SIPEXT_SHOW_PASSWORDS", "maybe"],
    ["DATABASE_URL", "mysql://x"],
    ["DATABASE_URL", "postgres://[not-a-host"],
    ["SIPEXT_LOG_LEVEL", "loud"],
    ["SIPEXT_REGISTRAR_DOMAIN", "not a domain"],
    ["SIPEXT_ADMIN_PASSWORD", "short"],
    ["SIPEXT_ENCRYPTION_KEY", "too-short"],
    ["SIPEXT_TRUST_PROXY", "10.0.0.0/33"],
    ["SIPEXT_TRUST_PROXY", "10.0.0.1, proxy.example"],
    ["SIPEXT_MAX_CONNECTIONS_PER_SOURCE", "0"],
    ["SIPEXT_MAX_CONNECTIONS_PER_SOURCE", "many"],
    ["SIPEXT_WORKERS", "0"],
    ["SIPEXT_WORKERS", "all"],
    // Workers share their state through PostgreSQL: on SQLite, refused (CONTRACT §15).
    ["SIPEXT_WORKERS", "2"],
  ])("stops serve when %s=%s, with one line naming the variable", async (name, value) => {
    const r = await run(["serve"], { SIPEXT_DATA_DIR: dataDir, SIPEXT_HTTP_PORT: "0", [name]: value });
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    const err = lines(r.stderr);
    expect(err).toHaveLength(1);
    expect(err[0]).toContain(name);
    expect(r.stdout).not.toContain("listening");
    if (name === "SIPEXT_ADMIN_PASSWORD") expect(r.stderr).not.toContain(value);
  });

  it.each([
    ["an unreachable server", "postgres://sipext:hunter2-secret@127.0.0.1:1/sipext"],
    [
      "a schema that is not an identifier",
      "postgres://sipext:hunter2-secret@127.0.0.1:1/sipext?schema=a-b;drop",
    ],
  ])("stops serve on %s with one line naming DATABASE_URL and not its password", async (_what, url) => {
    const r = await run(["serve"], { SIPEXT_DATA_DIR: dataDir, SIPEXT_HTTP_PORT: "0", DATABASE_URL: url });
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    const err = lines(r.stderr);
    expect(err).toHaveLength(1);
    expect(err[0]).toContain("DATABASE_URL");
    expect(r.stderr + r.stdout).not.toContain("hunter2-secret");
  });

  it("refuses bad configuration for the other commands too", async () => {
    const r = await run(["customers", "create", "--name", "x"], {
      SIPEXT_DATA_DIR: dataDir,
      DATABASE_URL: "mysql://x",
    });
    expect(r.code).not.toBe(0);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain("DATABASE_URL");
    expect(r.stdout).toBe("");
  });
});

describe.each(DATABASES)("sipext command on %s", (kind: DbKind) => {
  let dataDir: string;
  let databaseUrl: string | undefined;
  let env: Record<string, string>;
  const harnesses: Harness[] = [];

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "sipext-cli-"));
    databaseUrl = kind === "postgres" ? newSchemaUrl() : undefined;
    env = { SIPEXT_DATA_DIR: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  });
  afterAll(async () => {
    for (const h of harnesses) await h.close();
    await dropSchema(databaseUrl);
    removeDir(dataDir);
  });

  /** A server on the same data dir and database as the commands. */
  async function server(): Promise<Harness> {
    const h = await startHarness(kind, { dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
    harnesses.push(h);
    return h;
  }

  describe("first start and shutdown", () => {
    let first: Run;
    let login: { status: number; username: unknown };

    beforeAll(async () => {
      const s = await serve(env);
      // The printed login works against the running server.
      await s.waitFor(/SIP domain:.*\n/);
      const text = s.output().stdout;
      const username = /username:\s+(\S+)/.exec(text)?.[1] ?? "";
      const password = /password:\s+(\S+)/.exec(text)?.[1] ?? "";
      const res = await client(`http://127.0.0.1:${s.port}`).post("/auth/login", { username, password });
      login = { status: res.status, username: res.body.username };
      first = await s.stop();
    });

    it("prints the admin login, customer id and SIP domain on the first start", () => {
      expect(first.stdout).toMatch(/username:\s+admin\n/);
      expect(first.stdout).toMatch(/password:\s+\S{12,}\n/);
      const id = /customer id:\s+([0-9a-f-]{36})\n/.exec(first.stdout)?.[1];
      expect(id).toBeDefined();
      expect(first.stdout).toContain(`SIP domain:   ${id}.registrar.localhost`);
    });

    it("prints them exactly once, and never the password in a log line", () => {
      const password = /password:\s+(\S+)/.exec(first.stdout)?.[1] ?? "";
      expect(first.stdout.split(password)).toHaveLength(2);
      expect(first.stdout.match(/first run/g)).toHaveLength(1);
      for (const l of lines(first.stdout).filter((x) => x.startsWith("{"))) expect(l).not.toContain(password);
      expect(first.stderr).not.toContain(password);
    });

    it("prints a login that really logs in", () => {
      expect(login).toEqual({ status: 200, username: "admin" });
    });

    it("shuts down gracefully on SIGTERM with exit code 0", () => {
      expect(first.signal).toBeNull();
      expect(first.code).toBe(0);
      expect(first.stdout).toContain("shutting down");
    });

    it("prints none of it on a second start on the same data", async () => {
      const s = await serve(env);
      const second = await s.stop();
      expect(second.code).toBe(0);
      expect(second.stdout).toContain("listening");
      expect(second.stdout).not.toContain("first run");
      expect(second.stdout).not.toMatch(/password:|customer id:|SIP domain:/);
      const password = /password:\s+(\S+)/.exec(first.stdout)?.[1] ?? "";
      expect(second.stdout).not.toContain(password);
    });

    it("keeps the first customer as the only bootstrap customer after restarts", async () => {
      const h = await server();
      expect(h.server.firstRun).toBeUndefined();
      expect(await h.server.core.stores.customers.count()).toBe(1);
    });
  });

  describe("customers, users and access keys", () => {
    let customerId: string;

    it("creates a customer with its domain and admin, printed as JSON", async () => {
      const r = await run(
        [
          "customers",
          "create",
          "--name",
          "Acme",
          "--email",
          "ops@acme.test",
          "--admin-username",
          `acme-${kind}`,
          "--admin-password",
          "acme-pass-123",
        ],
        env,
      );
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(Object.keys(out).sort()).toEqual(["admin", "customer", "domain"]);
      expect(out.customer).toMatchObject({ name: "Acme", email: "ops@acme.test", status: "active" });
      customerId = out.customer.id;
      expect(customerId).toMatch(/^[0-9a-f-]{36}$/);
      expect(out.domain).toMatchObject({
        customer_id: customerId,
        domain_name: `${customerId}.registrar.localhost`,
      });
      expect(out.admin.user).toMatchObject({
        username: `acme-${kind}`,
        role: "admin",
        customer_id: customerId,
      });
      expect(JSON.stringify(out.admin.user)).not.toContain("argon2");
    });

    it("creates a customer without an admin", async () => {
      const r = await run(["customers", "create", "--name", "Bare"], env);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.customer.name).toBe("Bare");
      expect(out.admin).toBeUndefined();
    });

    it("generates and prints an admin password when none is given", async () => {
      const r = await run(["customers", "create", "--name", "Gen", "--admin-username", `gen-${kind}`], env);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.admin.password).toMatch(/^\S{16,}$/);
      const h = await server();
      const res = await client(h.url).post("/auth/login", {
        username: `gen-${kind}`,
        password: out.admin.password,
      });
      expect(res.status).toBe(200);
    });

    it("creates users whose logins work, with their role", async () => {
      const r = await run(
        [
          "users",
          "create",
          "--customer-id",
          customerId,
          "--username",
          `mgr-${kind}`,
          "--password",
          "mgr-pass-1234",
          "--role",
          "manager",
        ],
        env,
      );
      expect(r.code).toBe(0);
      const user = JSON.parse(r.stdout);
      expect(user).toMatchObject({ username: `mgr-${kind}`, role: "manager", customer_id: customerId });
      expect(r.stdout).not.toContain("mgr-pass-1234");
      const h = await server();
      const res = await client(h.url).post("/auth/login", {
        username: `mgr-${kind}`,
        password: "mgr-pass-1234",
      });
      expect(res.status).toBe(200);
      const me = await client(h.url, res.body.token as string).get("/v1.0/me");
      expect(me.body).toMatchObject({ role: "manager", customer_id: customerId });
    });

    it("creates an access key whose printed token works against a server on the same data", async () => {
      const r = await run(
        ["accesskeys", "create", "--customer-id", customerId, "--name", "cli", "--expire", "3600"],
        env,
      );
      expect(r.code).toBe(0);
      const key = JSON.parse(r.stdout);
      expect(key.token).toMatch(/^sxk_[A-Za-z0-9_-]{32,}$/);
      expect(key).toMatchObject({ name: "cli", customer_id: customerId });
      const h = await server();
      h.secret(key.token);
      const c = client(h.url, key.token);
      const customer = await c.get("/v1.0/customer");
      expect(customer.status).toBe(200);
      expect(customer.body).toMatchObject({ id: customerId, name: "Acme" });
      const me = await client(h.url).get(`/v1.0/me?accesskey=${key.token}`);
      expect(me.body).toMatchObject({ type: "accesskey", id: key.id });
      expect((await c.get("/v1.0/extensions")).status).toBe(200);
      await h.assertNoPlaintextSecrets();
    });

    it("fails with one line and a non-zero code for an unknown customer id", async () => {
      const unknown = "0b9c7a54-3e2d-4f1a-8b6c-5d4e3f2a1b0c";
      for (const args of [
        [
          "users",
          "create",
          "--customer-id",
          unknown,
          "--username",
          `ghost-${kind}`,
          "--password",
          "ghost-pass-123",
        ],
        ["accesskeys", "create", "--customer-id", unknown],
        [
          "users",
          "create",
          "--customer-id",
          "not-a-uuid",
          "--username",
          `ghost2-${kind}`,
          "--password",
          "ghost-pass-123",
        ],
        ["accesskeys", "create", "--customer-id", "not-a-uuid"],
      ]) {
        const r = await run(args, env);
        expect(r.code, args.join(" ")).not.toBe(0);
        expect(lines(r.stderr), args.join(" ")).toHaveLength(1);
        expect(r.stderr).toMatch(/customer/i);
        expect(r.stdout).toBe("");
      }
    });

    it("fails with one line and a non-zero code for a duplicate username", async () => {
      for (const args of [
        [
          "users",
          "create",
          "--customer-id",
          customerId,
          "--username",
          `acme-${kind}`,
          "--password",
          "other-pass-123",
        ],
        [
          "customers",
          "create",
          "--name",
          "Dup",
          "--admin-username",
          `acme-${kind}`,
          "--admin-password",
          "other-pass-123",
        ],
      ]) {
        const r = await run(args, env);
        expect(r.code, args.join(" ")).not.toBe(0);
        const err = lines(r.stderr);
        expect(err).toHaveLength(1);
        expect(err[0]).toContain(`acme-${kind}`);
        expect(err[0]).toMatch(/taken|exists/);
        expect(r.stdout).toBe("");
      }
    });

    it("fails with one line for a bad role, a short password and a bad expire", async () => {
      for (const [args, word] of [
        [
          [
            "users",
            "create",
            "--customer-id",
            customerId,
            "--username",
            `r-${kind}`,
            "--password",
            "role-pass-123",
            "--role",
            "root",
          ],
          "role",
        ],
        [
          ["users", "create", "--customer-id", customerId, "--username", `p-${kind}`, "--password", "short"],
          "password",
        ],
        [["accesskeys", "create", "--customer-id", customerId, "--expire", "soon"], "expire"],
        [["accesskeys", "create", "--customer-id", customerId, "--expire", "0"], "expire"],
      ] as Array<[string[], string]>) {
        const r = await run(args, env);
        expect(r.code, args.join(" ")).not.toBe(0);
        const err = lines(r.stderr);
        expect(err, args.join(" ")).toHaveLength(1);
        expect(err[0]).toContain(word);
      }
    });
  });

  if (kind === "postgres") {
    it("migrates a fresh schema while another deployment's schema in the same database is in use", async () => {
      // A running deployment in a sibling schema (it has Kysely's migration tables) ...
      const otherUrl = newSchemaUrl();
      const otherDir = mkdtempSync(join(tmpdir(), "sipext-cli-"));
      let other: Harness | undefined;
      try {
        other = await startHarness("postgres", { dataDir: otherDir, databaseUrl: otherUrl });
        // ... must not make the migration of a brand-new schema think its tables already exist.
        const fresh = newSchemaUrl();
        const freshDir = mkdtempSync(join(tmpdir(), "sipext-cli-"));
        try {
          const r = await run(["customers", "create", "--name", "Sibling"], {
            SIPEXT_DATA_DIR: freshDir,
            DATABASE_URL: fresh,
          });
          expect(r.stderr).toBe("");
          expect(r.code).toBe(0);
          expect(JSON.parse(r.stdout).customer.name).toBe("Sibling");
        } finally {
          await dropSchema(fresh);
          removeDir(freshDir);
        }
      } finally {
        await other?.close();
        await dropSchema(otherUrl);
        removeDir(otherDir);
      }
    });
  }
});
