// Runs the `sipext` command as a child process, as an operator would: one-shot commands to their
// end, and `serve` until it logs that it is listening.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "sipext.js");

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The parent's environment without any sipext setting, so only what a test names applies. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("SIPEXT_") && k !== "DATABASE_URL") env[k] = v;
  }
  return { ...env, ...extra };
}

/** Starts `sipext <args>`: bin/sipext.js, or another entry such as a build's dist/cli/main.js. */
export function start(args: string[], env: Record<string, string>, entry = BIN): ChildProcess {
  return spawn(process.execPath, [entry, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: "pipe" });
}

export function collect(child: ChildProcess): { out: () => Run; done: Promise<Run> } {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const out = () => ({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
  const done = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { out, done };
}

/** Runs the command to its end (killed after 20 s). */
export async function run(args: string[], env: Record<string, string>): Promise<Run> {
  const child = start(args, env);
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    return await collect(child).done;
  } finally {
    clearTimeout(timer);
  }
}

/** Lines a human would read: stderr without blank lines. */
export const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "");

export interface Served {
  port: number;
  stop(): Promise<Run>;
  output: () => Run;
  /** Resolves once stdout matches (a pipe may deliver lines in several chunks); fails after `within` ms. */
  waitFor(re: RegExp, within?: number): Promise<void>;
}

/** Starts `sipext serve` on free ports and waits (up to `ms`) for its "listening" log line. */
export async function serve(env: Record<string, string>, ms = 20_000, entry = BIN): Promise<Served> {
  const child = start(
    ["serve"],
    {
      SIPEXT_HTTP_HOST: "127.0.0.1",
      SIPEXT_HTTP_PORT: "0",
      SIPEXT_SIP_HOST: "127.0.0.1",
      SIPEXT_SIP_PORT: "0",
      ...env,
    },
    entry,
  );
  const { out, done } = collect(child);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`serve did not log "listening" in time:\n${out().stdout}\n${out().stderr}`));
    }, ms);
    const check = () => {
      const m = /"httpPort":(\d+).*listening|listening.*"httpPort":(\d+)/.exec(out().stdout);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1] ?? m[2]));
      }
    };
    child.stdout?.on("data", check);
    done.then(
      (r) => {
        clearTimeout(timer);
        reject(new Error(`serve exited early (${r.code}):\n${r.stdout}\n${r.stderr}`));
      },
      () => undefined,
    );
  });
  return {
    port,
    output: out,
    async waitFor(re, within = 10_000) {
      for (let waited = 0; !re.test(out().stdout); waited += 50) {
        if (waited > within) throw new Error(`no ${re} in serve's output:\n${out().stdout}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.kill("SIGTERM");
      try {
        return await done;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Runs `sipext <args>` in this process, through the same program the binary builds (each child
 * process costs seconds of tsx start-up): env as the command sees it, stdout and stderr as it
 * writes them, and the exit code main.ts would give. `tty` makes stdout look like a terminal.
 */
export async function runInProcess(
  args: string[],
  env: Record<string, string>,
  opts: { tty?: boolean } = {},
): Promise<Run> {
  const { CommanderError } = await import("commander");
  const { cliProgram } = await import("../../src/cli/program.js");
  const savedEnv = { ...process.env };
  for (const k of Object.keys(process.env)) {
    if (k.startsWith("SIPEXT_") || k === "DATABASE_URL") delete process.env[k];
  }
  Object.assign(process.env, env);
  let stdout = "";
  let stderr = "";
  const { write: outWrite, isTTY } = process.stdout;
  const errWrite = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  process.stdout.isTTY = opts.tty === true;
  process.exitCode = undefined;
  let code = 0;
  try {
    const notHere = () => Promise.reject(new Error("serve is not run in-process"));
    await cliProgram(notHere).parseAsync(["node", "sipext", ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    code = err.exitCode === 0 ? 0 : 2;
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
    process.stdout.isTTY = isTTY;
    process.exitCode = undefined;
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
  }
  return { code, signal: null, stdout, stderr };
}
