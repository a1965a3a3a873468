// kill -9 (CONTRACT §11): "an acknowledged change always has its event". `sipext serve` runs as a
// child process with its own data dir (and PostgreSQL schema); extension creates it answered 200
// are acknowledged changes. While its webhook receiver does not answer, the process is killed with
// SIGKILL — some creates still in flight — then started again on the same data: every
// acknowledged change's event is then delivered to the receiver, in order, and listed by
// GET /v1.0/events. The new process takes over the dead one's lease once it has expired (30 s).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { client, DATABASES, dropSchema, newSchemaUrl, removeDir } from "../helpers/harness.js";
import { type Envelope, inOrderWithoutGaps, startReceiver } from "../helpers/webhook-receiver.js";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "sipext.js");

interface Child {
  url: string;
  process: ChildProcess;
  exited: Promise<NodeJS.Signals | number | null>;
}

/** `sipext serve` on free ports; resolves with its API's URL once it logs that it listens. */
async function serve(env: Record<string, string>): Promise<Child> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("SIPEXT_") && k !== "DATABASE_URL"),
  );
  const child = spawn(process.execPath, [BIN, "serve"], {
    cwd: ROOT,
    env: { ...clean, ...env },
    stdio: "pipe",
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on("close", (code, signal) => resolve(signal ?? code)),
  );
  // Generous: tsx compiles the sources at start, and the test machine may be busy.
  const end = Date.now() + 60_000;
  for (;;) {
    const m = /"httpPort":(\d+)[^\n]*listening/.exec(out);
    if (m) return { url: `http://127.0.0.1:${m[1]}`, process: child, exited };
    if (child.exitCode !== null || Date.now() > end) {
      child.kill("SIGKILL");
      throw new Error(`sipext serve did not start:\n${out}`);
    }
    await new Promise((f) => setTimeout(f, 50));
  }
}

describe("kill -9", () => {
  // Both databases at once: most of the time is the dead process's lease running out.
  it.concurrent.for(DATABASES)(
    "delivers the event of every acknowledged change after a kill -9 and a restart, on %s",
    { timeout: 150_000 },
    async (kind, { expect }) => {
      const dataDir = mkdtempSync(join(tmpdir(), "sipext-kill-"));
      const databaseUrl = kind === "postgres" ? newSchemaUrl() : undefined;
      const password = `admin-${randomBytes(6).toString("hex")}`;
      const env = {
        SIPEXT_DATA_DIR: dataDir,
        SIPEXT_HTTP_HOST: "127.0.0.1",
        SIPEXT_HTTP_PORT: "0",
        SIPEXT_SIP_HOST: "127.0.0.1",
        SIPEXT_SIP_PORT: "0",
        SIPEXT_ADMIN_PASSWORD: password,
        SIPEXT_WEBHOOK_ALLOW_PRIVATE: "true",
        SIPEXT_LOG_LEVEL: "info",
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      };
      const children: Child[] = [];
      const receiver = await startReceiver();
      try {
        receiver.answer = () => "hang"; // nothing is delivered before the kill

        const first = await serve(env);
        children.push(first);
        const login = await client(first.url).post<{ token: string }>("/auth/login", {
          username: "admin",
          password,
        });
        expect(login.status).toBe(200);
        const api = client(first.url, login.body.token);
        expect((await api.put("/v1.0/customer", { webhook_uri: `${receiver.url}/k` })).status).toBe(200);
        const secret = await api.post<{ webhook_secret: string }>("/v1.0/customer/webhook-secret-regenerate");
        receiver.secrets.set("/k", secret.body.webhook_secret);

        const acknowledged: string[] = [];
        const createOne = async (i: number) => {
          const res = await api.post<{ id: string }>("/v1.0/extensions", {
            extension: `k${i}`,
            password: "Kill-pass-123",
          });
          if (res.status === 200) acknowledged.push(res.body.id);
        };
        for (let i = 0; i < 10; i++) await createOne(i);
        // A second batch in flight when the process dies: only the answered ones count.
        const inFlight = Array.from({ length: 30 }, (_, i) => createOne(100 + i).catch(() => undefined));
        const deadline = Date.now() + 20_000;
        while (acknowledged.length < 15 && Date.now() < deadline) await new Promise((f) => setTimeout(f, 2));
        first.process.kill("SIGKILL");
        expect(await first.exited).toBe("SIGKILL");
        await Promise.all(inFlight);
        expect(receiver.accepted()).toEqual([]);
        expect(receiver.all.length).toBeGreaterThan(0); // the first attempt had started (and hung)

        receiver.answer = () => 200;
        const second = await serve(env);
        children.push(second);
        const delivered = () => receiver.accepted("/k").map((r) => r.event);
        const has = (events: Envelope[], id: string) =>
          events.some((e) => e.type === "extension_created" && e.data.id === id);
        await receiver.until(
          () => acknowledged.every((id) => has(delivered(), id)),
          75_000,
          "every acknowledged event",
        );
        expect(inOrderWithoutGaps(delivered())[0]).toBe(1);
        expect(receiver.accepted().every((r) => r.signed)).toBe(true);

        const again = await client(second.url).post<{ token: string }>("/auth/login", {
          username: "admin",
          password,
        });
        const listed = await client(second.url, again.body.token).get<{ result: Envelope[] }>("/v1.0/events");
        for (const id of acknowledged) expect(has(listed.body.result, id)).toBe(true);
        second.process.kill("SIGTERM");
        expect(await second.exited).toBe(0);
      } finally {
        for (const c of children) c.process.kill("SIGKILL");
        await Promise.all(children.map((c) => c.exited));
        await receiver.close();
        await dropSchema(databaseUrl);
        removeDir(dataDir);
      }
    },
  );
});
