// CONTRACT §12: SIGTERM to `npm start` stops the server gracefully. The signal goes to the npm
// process only (as `docker stop`, systemd or a supervisor send it), not to its process group:
// npm passes it to its child, which must be the server itself (`exec` in the start script: a
// `sh -c` in between would die and leave the server orphaned, still serving). The server stops
// accepting, lets a request under way finish, and every process of the tree is gone within 10 s,
// its ports free — also with an event stream open, which never ends by itself.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { get as httpGet, type IncomingMessage } from "node:http";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv } from "../helpers/cli.js";
import { DATABASES, dropSchema, newSchemaUrl, removeDir } from "../helpers/harness.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** Every process below `pid` (from /proc: Linux). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces, so read after the last ")".
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(d), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf) if (parent === p) out.push(child), walk(child);
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const tcpPortFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });

const udpPortFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createSocket("udp4");
    s.once("error", () => resolve(false));
    s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });

describe.each(DATABASES)("SIGTERM to `npm start` on %s", (kind) => {
  const dataDir = mkdtempSync(join(tmpdir(), "sipext-stop-"));
  const databaseUrl = kind === "postgres" ? newSchemaUrl() : undefined;
  let npm: ChildProcess | undefined;
  let tree: number[] = [];
  afterAll(async () => {
    // What this test started, also when it failed because the tree outlived npm.
    for (const p of [npm?.pid ?? 0, ...tree]) if (p > 0 && alive(p)) process.kill(p, "SIGKILL");
    await dropSchema(databaseUrl);
    removeDir(dataDir);
  });

  it("finishes the request under way, then the whole process tree exits within 10 s and the ports are free", async () => {
    const password = `pw-${randomBytes(8).toString("hex")}`;
    npm = spawn("npm", ["start"], {
      cwd: ROOT,
      env: cleanEnv({
        SIPEXT_DATA_DIR: dataDir,
        SIPEXT_HTTP_HOST: "127.0.0.1",
        SIPEXT_HTTP_PORT: "0",
        SIPEXT_SIP_HOST: "127.0.0.1",
        SIPEXT_SIP_PORT: "0",
        SIPEXT_ADMIN_PASSWORD: password,
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      }),
      stdio: "pipe",
    });
    let out = "";
    npm.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    npm.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => npm?.on("close", (code) => resolve(code)));
    let httpPort = 0;
    let sipPort = 0;
    for (let waited = 0; httpPort === 0; waited += 100) {
      const m = /"httpPort":(\d+),"sipPort":(\d+)[^\n]*listening/.exec(out);
      if (m) [httpPort, sipPort] = [Number(m[1]), Number(m[2])];
      else if (waited > 60_000 || npm.exitCode !== null) throw new Error(`npm start did not serve:\n${out}`);
      else await new Promise((r) => setTimeout(r, 100));
    }
    tree = descendants(npm.pid ?? 0);
    expect(tree.length).toBeGreaterThan(0);

    // An event stream (SSE) open: it never ends by itself, so the stop must cut it.
    const login = await fetch(`http://127.0.0.1:${httpPort}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password }),
    });
    const { token } = (await login.json()) as { token: string };
    const stream = await new Promise<IncomingMessage>((resolve, reject) =>
      httpGet(
        `http://127.0.0.1:${httpPort}/v1.0/events`,
        { headers: { accept: "text/event-stream", authorization: `Bearer ${token}` } },
        resolve,
      ).once("error", reject),
    );
    expect(stream.statusCode).toBe(200);
    const streamClosed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
    stream.resume();

    // A login under way: its headers and half its body are in when the signal comes.
    const body = JSON.stringify({ username: "admin", password });
    const socket = connect(httpPort, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    let answer = "";
    socket.on("data", (d: Buffer) => {
      answer += d.toString();
    });
    const answered = new Promise<void>((resolve) => socket.once("end", () => resolve()));
    socket.write(
      `POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((r) => setTimeout(r, 300));

    const signalledAt = Date.now();
    npm.kill("SIGTERM"); // the npm process alone, not its group
    await new Promise((r) => setTimeout(r, 500));
    // Stopped accepting: a new connection is refused while the request under way is served.
    const refused = await new Promise<boolean>((resolve) => {
      const c = connect(httpPort, "127.0.0.1");
      c.once("error", () => resolve(true));
      c.once("connect", () => {
        c.destroy();
        resolve(false);
      });
    });
    expect(refused).toBe(true);
    socket.write(body.slice(10));
    await answered;
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"token"');

    const code = await exited;
    for (let waited = 0; tree.some(alive); waited += 100) {
      if (waited > 10_000) throw new Error(`still running: ${tree.filter(alive).join(", ")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    // Exited by itself (0), not by the 10 s deadline (1), the event stream cut.
    expect(code).toBe(0);
    await streamClosed;
    expect(out).toContain('"signal":"SIGTERM"');
    expect(await tcpPortFree(httpPort)).toBe(true);
    expect(await tcpPortFree(sipPort)).toBe(true);
    expect(await udpPortFree(sipPort)).toBe(true);
  }, 90_000);
});
