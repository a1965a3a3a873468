// Which files of src/ one REGISTER runs code in, from the datagram to the stored binding and the
// answer. Run as a child process (`tsx register-path.ts`): starts the real server on embedded
// SQLite, creates an extension, registers once to warm up, gets a 401 again, then resets V8's
// precise coverage, sends the authenticated REGISTER (200) and waits for the binding to be
// written. Prints one JSON line: {"files":[...]} — every src/ file in which some function ran
// (message/ files counted as one). DETAIL=1 lists the functions on stderr.
import { Session } from "node:inspector/promises";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.startPreciseCoverage", { callCount: true, detailed: false });

const { removeDir, startHarness } = await import("../../helpers/harness.js");
const { RawPhone } = await import("../../e2e/raw-phone.js");

const h = await startHarness("sqlite", { env: { SIPEXT_LOG_LEVEL: "warn" } });
const password = "path-test-password";
const principal = { kind: "user", customerId: h.admin.customerId, role: "admin", id: "path" } as const;
await h.server.core.services.extensions.create(principal, { extension: "700", password });
const phone = await RawPhone.open({
  sipPort: h.server.sip.port,
  domain: h.admin.domainName,
  ext: "700",
  password,
});

// A warm-up registration first, so that what runs once per process (lazy compilation, caches
// filled on the first lookup) does not count. Then the 401 of a second one, the counters reset,
// and the authenticated REGISTER that stores the binding.
if (!(await phone.registerWithDigest()).startsWith("SIP/2.0 200 ")) throw new Error("not registered");
await h.server.core.location.flush();
// The warm-up's event (extension_registered) wakes the webhook worker, whose look-up of the
// customer's webhook would otherwise still be running in the measured window: let it settle.
await new Promise((r) => setTimeout(r, 300));
const authorization = phone.authorization(await phone.register());
await session.post("Profiler.takePreciseCoverage");
const ok = await phone.register([authorization]);
await h.server.core.location.flush();
const { result } = await session.post("Profiler.takePreciseCoverage");
if (!ok.startsWith("SIP/2.0 200 ")) throw new Error(`not registered: ${ok}`);

const files = new Set<string>();
for (const script of result) {
  if (!script.url.startsWith("file://")) continue;
  const path = fileURLToPath(script.url);
  if (!path.startsWith(SRC)) continue;
  const ran = script.functions.filter((f) => (f.ranges[0]?.count ?? 0) > 0);
  if (ran.length === 0) continue;
  const rel = relative(SRC, path);
  files.add(rel.startsWith("sip/message/") ? "sip/message/*" : rel);
  if (process.env.DETAIL) console.error(rel, ran.map((f) => f.functionName || "(anon)").join(","));
}
console.log(JSON.stringify({ files: [...files].sort() }));
await phone.close();
await h.close();
removeDir(h.dataDir);
process.exit(0);
