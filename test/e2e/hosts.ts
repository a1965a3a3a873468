// A name for a customer's SIP domain in /etc/hosts, for clients that resolve the domain of the
// address of record themselves instead of sending everything to an outbound proxy (sipsak always;
// Linphone set up as VoIPbin's quickstart says, with no proxy). An operator does the same with a
// DNS record (README "Registering a phone"); a test adds `127.0.0.1 <domain>` and removes exactly
// that line afterwards. Suites run in parallel, so every read-modify-write of the file holds a
// lock directory; where /etc/hosts cannot be written (not root) nothing is added and the suite
// skips what needs the name.
import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const HOSTS = "/etc/hosts";
const LOCK = join(tmpdir(), "sipext-e2e-etc-hosts.lock");

function locked<T>(body: () => T): T {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock left by a killed run is taken over after 10 s.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 10_000) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`could not take ${LOCK}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return body();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Adds `127.0.0.1 <name>`; returns the exact line (to remove it), or undefined if it cannot. */
export function addHostsEntry(name: string, tag: string): string | undefined {
  const line = `127.0.0.1 ${name} # sipext-e2e-${tag} ${process.pid}`;
  try {
    return locked(() => {
      appendFileSync(HOSTS, `${readFileSync(HOSTS, "utf8").endsWith("\n") ? "" : "\n"}${line}\n`);
      return line;
    });
  } catch {
    return undefined;
  }
}

/** Removes the line `addHostsEntry` added, and nothing else. */
export function removeHostsEntry(line: string | undefined): void {
  if (!line) return;
  locked(() => {
    const text = readFileSync(HOSTS, "utf8");
    const kept = text.split("\n").filter((l) => l !== line);
    if (kept.length !== text.split("\n").length) writeFileSync(HOSTS, kept.join("\n"));
  });
}
