// `npm run build`: src/ → dist/, one JavaScript file per TypeScript file (esbuild transpiles each
// on its own, which tsconfig's isolatedModules guarantees is safe; `npm run typecheck` is the type
// check), plus the web console's static files, which the server finds beside its code
// (src/api/console-assets.ts: ../console/ from dist/api/ is dist/console/).
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
// Another directory may be named (the packaging test builds a deployment apart from the checkout);
// --force builds even when nothing changed.
const out = resolve(root, process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "dist");
// Built beside and swapped in at the end: a server started from dist/ meanwhile (`npm start`
// rebuilds it) never finds it half-written or half-deleted.
const building = `${out}.building-${process.pid}`;

// What the build is made from: every file under src/ (name, size, time) and the build's own
// inputs. A build of the same sources is skipped: `npm start` builds each time (`prestart`), and
// swapping dist/ under a server that is still loading its modules from it (another `npm start`,
// `npx sipext`) fails its imports for the instant between the two renames below.
function stampOf() {
  const hash = createHash("sha256");
  const files = readdirSync(join(root, "src"), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .concat([join(root, "package.json"), join(root, "scripts", "build.mjs")])
    .sort();
  for (const f of files) {
    const st = statSync(f);
    hash.update(`${f}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return hash.digest("hex");
}
const STAMP = ".build-stamp";
const stamp = stampOf();
const stampFile = join(out, STAMP);
if (!process.argv.includes("--force") && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) {
  console.log(`${out} is up to date`);
  process.exit(0);
}
rmSync(building, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ["src/**/*.ts"],
  outdir: building,
  outbase: "src",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
});
// The console, and its JsSIP bundle when `npm run build:console` wrote one (src/console/vendor/).
cpSync(`${root}src/console`, `${building}/console`, { recursive: true });
writeFileSync(join(building, STAMP), stamp);
const old = `${out}.old-${process.pid}`;
if (existsSync(out)) renameSync(out, old);
renameSync(building, out);
rmSync(old, { recursive: true, force: true });
console.log(`built ${out}`);
