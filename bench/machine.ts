// The machine a benchmark runs on: what its report says about it (every BENCHMARKS.md section has
// it), and how loaded it is before and while measuring.
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { machineBusy, otherLoad, ourPids, readProc, sh, sleep } from "./proc.js";

export type Machine = ReturnType<typeof machine>;

export function machine() {
  const kam = existsSync("/usr/sbin/kamailio") ? (sh("kamailio", ["-v"]).split("\n")[0] ?? "") : "";
  return {
    date: sh("date", ["-u"]),
    nproc: sh("nproc", []),
    cpu: cpus()[0]?.model ?? "unknown",
    ramGiB: (totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    kamailio: /version:\s*kamailio\s+(\S+)/i.exec(kam)?.[1] ?? (kam || "not installed"),
    sipp: /SIPp\s+v?([\d.]+)/.exec(sh("sipp", ["-v"]))?.[1] ?? "unknown",
    kernel: sh("uname", ["-r"]),
  };
}

/** The 1, 5 and 15-minute load averages, as uptime(1) prints them. */
export const loadText = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");

/** How loaded the machine is as measuring begins (logged): load average, busy cores, other processes. */
export async function loadAtStart(log: (line: string) => void) {
  const load = loadText();
  const busy = await machineBusy();
  const others = otherLoad();
  log(`machine: load average ${load}, ${busy} % of all cores busy`);
  for (const l of others) log(`  busy elsewhere: ${l}`);
  return { load, busy, others };
}

/** Other benchmarks and test runs on the machine (their command lines), not ours. */
export function otherBenchmarks(): string[] {
  const ours = ourPids();
  return readdirSync("/proc").flatMap((pid) => {
    if (!/^\d+$/.test(pid) || ours.has(Number(pid))) return [];
    const cmd = readProc(`${pid}/cmdline`)?.replace(/\0/g, " ").trim() ?? "";
    const ran = /bench\/(sip|api|calls)\/run\.ts|shared\/bench\/kamailio\/run\.sh|vitest/.test(cmd);
    return ran && !/^(sh|bash) -c /.test(cmd) ? [`${pid} ${cmd.slice(0, 120)}`] : [];
  });
}

/** Waits (≤ 15 min) for a 1-minute load average < 1.0 held for a minute, no other benchmark or test running. */
export async function waitForIdle(log: (line: string) => void): Promise<{ waitedS: number; idle: boolean }> {
  const started = Date.now();
  let quietSince: number | undefined;
  for (let said = false; Date.now() - started < 15 * 60_000; await sleep(5_000)) {
    const others = otherBenchmarks();
    if ((loadavg()[0] ?? 0) < 1.0 && others.length === 0) {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= 60_000) return { waitedS: (Date.now() - started) / 1000, idle: true };
      continue;
    }
    quietSince = undefined;
    if (said) continue;
    log(`waiting (up to 15 min) for the machine to be idle: load average ${loadText()}`);
    for (const l of others) log(`  running: ${l}`);
    for (const l of otherLoad()) log(`  busy: ${l}`);
    said = true;
  }
  log(`WARNING: the machine did not become idle in 15 min (load average ${loadText()}); measuring anyway`);
  return { waitedS: (Date.now() - started) / 1000, idle: false };
}

/** Before a step: waits (≤ 120 s) until the machine is < 10 % busy, as run.sh does. */
export async function waitQuiet(log: (line: string) => void): Promise<{ busy: number; warned: boolean }> {
  let busy = 0;
  for (let i = 0; i < 40; i++) {
    busy = await machineBusy();
    if (busy < 10) return { busy, warned: false };
    if (i === 0) log(`machine ${busy} % busy before a step; waiting up to 120 s`);
  }
  log(`WARNING: machine still ${busy} % busy; measuring anyway`);
  return { busy, warned: true };
}

/**
 * apt-get the `packages` that are missing (when `allowed`), as run.sh does it: a policy-rc.d that
 * keeps the packages from starting their services (a system Kamailio) while they install.
 */
export function aptInstall(log: (line: string) => void, packages: string[], allowed: boolean): void {
  const missingOf = (names: string[]) =>
    names.filter((p) => !/install ok installed/.test(sh("dpkg-query", ["-W", "-f=${Status}", p])));
  const missing = missingOf(packages);
  if (missing.length === 0) return;
  if (!allowed) throw new Error(`missing packages (--no-install): ${missing.join(" ")}`);
  log(`installing (apt): ${missing.join(" ")}`);
  const policy = "/usr/sbin/policy-rc.d";
  const madePolicy = !existsSync(policy);
  if (madePolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const apt = [
      sh("timeout", ["300", "apt-get", "update"], 310_000),
      sh("timeout", ["600", "apt-get", "install", "-y", "--no-install-recommends", ...missing], 610_000),
    ];
    const still = missingOf(missing);
    if (still.length)
      throw new Error(`apt-get could not install ${still.join(" ")}:\n${apt.join("\n")}`.slice(-3000));
  } finally {
    if (madePolicy) rmSync(policy, { force: true });
  }
}
