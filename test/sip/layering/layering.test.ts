// The SIP core's shape (issue #9): it imports nothing of the domain, the API, the stores or the
// configuration (it meets them through adapters), and one REGISTER runs code in a short,
// known list of files from the datagram to the stored binding and the answer.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SIP = join(ROOT, "src/sip");

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("the SIP core's layering", () => {
  it("src/sip imports nothing from domain/, api/, store/, adapters/ or config.ts", () => {
    const outside = /from "(?:\.\.\/)+(?:domain|api|store|adapters|contract)\/|from "(?:\.\.\/)+config\.js"/;
    const offenders = filesUnder(SIP).filter((f) => outside.test(readFileSync(f, "utf8")));
    expect(offenders.map((f) => f.slice(ROOT.length))).toEqual([]);
  });

  it("no file in src/ is over 400 lines", () => {
    const long = filesUnder(join(ROOT, "src"))
      .map((f) => [f.slice(ROOT.length), readFileSync(f, "utf8").split("\n").length - 1] as const)
      .filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });

  it("an authenticated REGISTER runs code in these files of the SIP core, and these few outside it", () => {
    const out = execFileSync(
      process.execPath,
      ["--import", "tsx", join(SIP, "../../test/sip/layering/register-path.ts")],
      {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    const files: string[] = JSON.parse(out.trim().split("\n").pop() ?? "{}").files;
    // The steps (README "Layout"): the socket and what it counts (§12), the ban check and the
    // overload measure (§14), parse, match, the REGISTER UAS, the registrar's decision, digest and
    // nonce, the location service. Issue #9 left ten; §12 and §14 added counting (told to the
    // observer, observer.ts, which names methods by a bounded set) and the guard.
    expect(files.filter((f) => f.startsWith("sip/"))).toEqual([
      "sip/auth/digest.ts",
      "sip/auth/nonce.ts",
      "sip/guard/bans.ts",
      "sip/guard/overload.ts",
      "sip/message/*",
      "sip/observer.ts",
      "sip/registrar/location.ts",
      "sip/registrar/register-uas.ts",
      "sip/registrar/registrar.ts",
      "sip/stack.ts",
      "sip/transaction/matching.ts",
      "sip/transaction/non-invite-server.ts",
      "sip/transport/counting.ts",
      "sip/transport/udp.ts",
    ]);
    // Outside the core: the composition's callbacks (overload), the three adapters (credentials
    // in, binding out, the metrics' observer: an array increment per message) and what they stand
    // on (the binding's upsert is a statement compiled once: compiled-rows.ts).
    expect(files.filter((f) => !f.startsWith("sip/"))).toEqual([
      "adapters/sip-credentials.ts",
      "adapters/sip-metrics.ts",
      "adapters/sql-location-store.ts",
      "sip-server.ts",
      "store/compiled-rows.ts",
      "store/db.ts",
      "store/extension-cache.ts",
      "util/time.ts",
    ]);
  }, 90_000);
});
