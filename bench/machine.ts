// What a benchmark report says about the machine it ran on (every BENCHMARKS.md section has it).
import { existsSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { sh } from "./proc.js";

export interface Machine {
  date: string;
  nproc: string;
  cpu: string;
  ramGiB: string;
  node: string;
  kamailio: string;
  sipp: string;
  kernel: string;
}

export function machine(): Machine {
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

/** A whole-number command-line option (`--name N`, N ≥ min), or undefined when not given. */
export function wholeOption(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
  return Number(raw);
}
