// `npm run build` and the compiled server (issue 14): dist/ runs with plain node, as a deployment
// runs it (here: a directory with only dist/, package.json and node_modules, no src/ and no tsx
// loader), finds its migrations and the console's files, and prints the first-run login.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { serve } from "../helpers/cli.js";
import { removeDir } from "../helpers/harness.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("the compiled server", () => {
  const deployment = mkdtempSync(join(tmpdir(), "sipext-dist-"));
  afterAll(() => removeDir(deployment));

  it("builds dist/ and serves the API, the console and the OpenAPI document from it", async () => {
    await promisify(execFile)(process.execPath, [
      join(ROOT, "scripts", "build.mjs"),
      join(deployment, "dist"),
    ]);
    writeFileSync(join(deployment, "package.json"), readFileSync(join(ROOT, "package.json")));
    symlinkSync(join(ROOT, "node_modules"), join(deployment, "node_modules"));

    const s = await serve(
      { SIPEXT_DATA_DIR: join(deployment, "data") },
      30_000,
      join(deployment, "dist", "cli", "main.js"),
    );
    try {
      await s.waitFor(/SIP domain:/);
      const base = `http://127.0.0.1:${s.port}`;
      const [api, page, app, spec] = await Promise.all([
        fetch(`${base}/v1.0/extensions`),
        fetch(`${base}/`),
        fetch(`${base}/console/app.js`),
        fetch(`${base}/openapi.json`),
      ]);
      // The API answers (migrations ran: the first run wrote its customer) and wants credentials.
      expect(api.status).toBe(401);
      expect(((await api.json()) as { error: { reason: string } }).error.reason).toBe(
        "AUTHENTICATION_REQUIRED",
      );
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toContain("text/html");
      expect(await page.text()).toContain("<html");
      expect(app.status).toBe(200);
      expect(spec.status).toBe(200);
      const out = s.output().stdout;
      expect(out).toContain("sipext first run");
      expect(out).toMatch(/password: +\S{16,}/);
    } finally {
      const stopped = await s.stop();
      expect(stopped.code).toBe(0);
    }
  }, 90_000);

  it("skips a build of the same sources (npm start under a running server), builds when they changed or with --force", async () => {
    const out = join(deployment, "again");
    const build = async (...args: string[]) =>
      (await promisify(execFile)(process.execPath, [join(ROOT, "scripts", "build.mjs"), out, ...args]))
        .stdout;
    expect(await build()).toContain(`built ${out}`);
    const main = join(out, "cli", "main.js");
    const first = statSync(main).ino;
    // The same sources: dist/ is left as it is (no swap a starting server could fall into).
    expect(await build()).toContain(`${out} is up to date`);
    expect(statSync(main).ino).toBe(first);
    expect(await build("--force")).toContain(`built ${out}`);
    expect(statSync(main).ino).not.toBe(first);
    // A build whose stamp is not the sources' (they changed since): built again.
    writeFileSync(join(out, ".build-stamp"), "sources of another day");
    const second = statSync(main).ino;
    expect(await build()).toContain(`built ${out}`);
    expect(statSync(main).ino).not.toBe(second);
    expect(readFileSync(join(out, ".build-stamp"), "utf8")).toMatch(/^[0-9a-f]{64}$/);
  }, 90_000);
});
