// CONTRACT §14 "First run" and "Tokens" from the operator's side: the bootstrap login is made
// and printed only by a start that bound its ports, a password from SIPEXT_ADMIN_PASSWORD is not
// echoed, and `sipext users reset-password|set-role|delete` end the user's tokens at once, seen
// by a server running on the same database.
import { mkdtempSync } from "node:fs";
import { createServer, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/store/db.js";
import { lines, run, serve } from "../helpers/cli.js";
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

/** A TCP port on 127.0.0.1 held by someone else. */
async function takenPort(): Promise<{ port: number; server: NetServer }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const a = server.address();
  if (typeof a !== "object" || !a) throw new Error("no port");
  return { port: a.port, server };
}

describe.each(DATABASES)("first run and lost passwords on %s", (kind: DbKind) => {
  let dataDir: string;
  let databaseUrl: string | undefined;
  let env: Record<string, string>;
  let h: Harness | undefined;
  const adminPassword = `chosen-${kind}-Pa55word`;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "sipext-first-run-"));
    databaseUrl = kind === "postgres" ? newSchemaUrl() : undefined;
    env = { SIPEXT_DATA_DIR: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  });
  afterAll(async () => {
    // Last: reading the SQLite files from this process drops the server's file locks (POSIX
    // locks belong to the process), after which another process's writes may go unseen.
    await h?.assertNoPlaintextSecrets();
    await h?.close();
    await dropSchema(databaseUrl);
    removeDir(dataDir);
  });

  async function countRows(): Promise<{ customers: number; users: number }> {
    const db = await openDatabase({ dataDir, databaseUrl });
    try {
      const n = async (table: "customers" | "users") =>
        Number(
          (
            await db.kysely
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<number>().as("n"))
              .executeTakeFirstOrThrow()
          ).n,
        );
      return { customers: await n("customers"), users: await n("users") };
    } finally {
      await db.close();
    }
  }

  it.each([
    ["HTTP", "SIPEXT_HTTP_PORT"],
    ["SIP", "SIPEXT_SIP_PORT"],
  ])(
    "a first start that cannot bind its %s port leaves no customer or admin behind",
    async (_what, variable) => {
      const taken = await takenPort();
      try {
        const r = await run(["serve"], {
          ...env,
          SIPEXT_HTTP_HOST: "127.0.0.1",
          SIPEXT_HTTP_PORT: "0",
          SIPEXT_SIP_HOST: "127.0.0.1",
          SIPEXT_SIP_PORT: "0",
          SIPEXT_ADMIN_PASSWORD: adminPassword,
          [variable]: String(taken.port),
        });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("EADDRINUSE");
        expect(r.stdout).not.toContain("first run");
      } finally {
        taken.server.close();
      }
      expect(await countRows()).toEqual({ customers: 0, users: 0 });
    },
  );

  it("the next start that binds creates and prints the login, not echoing SIPEXT_ADMIN_PASSWORD", async () => {
    const s = await serve({ ...env, SIPEXT_ADMIN_PASSWORD: adminPassword });
    await s.waitFor(/SIP domain:.*\n/);
    const login = await client(`http://127.0.0.1:${s.port}`).post("/auth/login", {
      username: "admin",
      password: adminPassword,
    });
    const out = await s.stop();
    expect(out.stdout).toMatch(/first run/);
    expect(out.stdout).toMatch(/username:\s+admin\n/);
    expect(out.stdout).toMatch(/password:\s+\(from SIPEXT_ADMIN_PASSWORD\)\n/);
    expect(out.stdout + out.stderr).not.toContain(adminPassword);
    expect(login.status).toBe(200);
    expect(await countRows()).toEqual({ customers: 1, users: 1 });
  });

  it("users reset-password prints a new password once; the old one and its tokens stop working", async () => {
    h = await startHarness(kind, { dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
    const api = client(h.url);
    const before = await api.post<{ token: string }>("/auth/login", {
      username: "admin",
      password: adminPassword,
    });
    expect(before.status).toBe(200);
    const old = h.secret(before.body.token);
    expect((await client(h.url, old).get("/v1.0/me")).status).toBe(200);

    const r = await run(["users", "reset-password", "--username", "admin"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { user: { username: string }; password: string };
    expect(out.user.username).toBe("admin");
    expect(out.password).toMatch(/^\S{16,}$/);
    expect(r.stdout.split(out.password)).toHaveLength(2);
    h.secret(out.password);

    const rejected = await client(h.url, old).get<{ error: { reason: string } }>("/v1.0/me");
    expect(rejected.status).toBe(401);
    expect(rejected.body.error.reason).toBe("INVALID_CREDENTIALS");
    expect((await api.post("/auth/login", { username: "admin", password: adminPassword })).status).toBe(401);
    const after = await api.post<{ token: string }>("/auth/login", {
      username: "admin",
      password: out.password,
    });
    expect(after.status).toBe(200);
    h.secret(after.body.token);
  });

  it("users set-role and users delete end the user's tokens too", async () => {
    if (!h) throw new Error("needs the server of the previous test");
    const server = h;
    const customerId = (await server.server.core.stores.users.getByUsername("admin"))?.customer_id ?? "";
    const username = `ops-${kind}`;
    await server.server.core.services.tenants.createUser(customerId, {
      username,
      password: "ops-password-1",
      role: "admin",
    });
    const token = async () =>
      (
        await client(server.url).post<{ token: string }>("/auth/login", {
          username,
          password: "ops-password-1",
        })
      ).body.token;
    const me = (t: string) => client(server.url, t).get<{ role: string }>("/v1.0/me");

    const asAdmin = await token();
    const r = await run(["users", "set-role", "--username", username, "--role", "agent"], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ username, role: "agent" });
    expect((await me(asAdmin)).status).toBe(401);

    const asAgent = await token();
    expect((await me(asAgent)).body.role).toBe("agent");
    const d = await run(["users", "delete", "--username", username], env);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout).tm_delete).not.toBe("");
    expect((await me(asAgent)).status).toBe(401);
  });

  it("names the field in one line for an unknown user or a bad role", async () => {
    for (const [args, word] of [
      [["users", "reset-password", "--username", "nobody"], "username"],
      [["users", "delete", "--username", "nobody"], "username"],
      [["users", "set-role", "--username", "admin", "--role", "root"], "role"],
    ] as Array<[string[], string]>) {
      const r = await run(args, env);
      expect(r.code, args.join(" ")).toBe(1);
      const err = lines(r.stderr);
      expect(err).toHaveLength(1);
      expect(err[0]).toContain(word);
      expect(r.stdout).toBe("");
    }
  });
});
