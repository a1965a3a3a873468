// The web console's files (src/console/) as the server serves them: read once into memory with
// their content type and ETag, and JsSIP for the web phone as one ES module.
//
// JsSIP (and esbuild) are devDependencies: a checkout set up with `npm install` has them, and the
// module is bundled at the first request for it (esbuild: well under a second in a process of its
// own, stopped after; the bundle is kept in memory). A deployment installed without dev
// dependencies uses the bundle `npm run build:console` wrote into src/console/vendor/ (run where
// they are installed); without either, the web phone says how to get one and the rest of the
// console works.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const CONSOLE_DIR = fileURLToPath(new URL("../console/", import.meta.url));
/** The web phone's JsSIP module, under /console/. */
export const JSSIP_PATH = "vendor/jssip.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webmanifest": "application/manifest+json",
};

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const asset = (body: Buffer, type: string): Asset => ({
  body,
  type,
  etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
});

/** Every servable file below `dir` by its path relative to it ("app.js", "vendor/x.js"). */
export function loadAssets(dir = CONSOLE_DIR): Map<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const type = TYPES[extname(entry.name)];
    if (!type) continue;
    const full = join(entry.parentPath, entry.name);
    out.set(relative(dir, full).split(sep).join("/"), asset(readFileSync(full), type));
  }
  return out;
}

/** JsSIP as an ES module (`import JsSIP from`), minified, for browsers of the last few years. */
async function bundleJssip(): Promise<string> {
  const { build, stop } = await import("esbuild");
  const here = dirname(fileURLToPath(import.meta.url));
  const pkg = createRequire(import.meta.url)("jssip/package.json") as { version: string };
  const r = await build({
    stdin: { contents: 'export { default } from "jssip";', resolveDir: here, loader: "js" },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "inline",
    banner: { js: `// JsSIP ${pkg.version} (MIT, https://jssip.net), bundled by sipext with esbuild` },
    write: false,
    logLevel: "silent",
  }).finally(() => stop());
  return r.outputFiles[0]?.text ?? "";
}

export type JssipModule = { ok: true; asset: Asset; from: "esbuild" | "vendor" } | { ok: false; why: string };

export const JSSIP_MISSING =
  "the web phone needs JsSIP: install the dev dependencies (npm install), or run `npm run build:console` " +
  "where they are installed and deploy src/console/vendor/jssip.js";

/**
 * JsSIP for the browser: bundled now when esbuild and jssip are installed (`bundle`), else the
 * vendored file, else why not.
 */
export function jssipModule(vendored: Asset | undefined, bundle = bundleJssip): Promise<JssipModule> {
  return bundle().then(
    (js): JssipModule => ({
      ok: true,
      asset: asset(Buffer.from(js), TYPES[".js"] as string),
      from: "esbuild",
    }),
    (err: unknown): JssipModule =>
      vendored
        ? { ok: true, asset: vendored, from: "vendor" }
        : { ok: false, why: `${JSSIP_MISSING} (${(err as Error).message.split("\n")[0]})` },
  );
}

// `npm run build:console`: writes the bundle for deployments without dev dependencies.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = join(CONSOLE_DIR, JSSIP_PATH);
  const js = await bundleJssip();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, js);
  console.log(`wrote ${out} (${js.length} bytes)`);
}
