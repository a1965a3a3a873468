// `npm run build`: src/ → dist/, one JavaScript file per TypeScript file (esbuild transpiles each
// on its own, which tsconfig's isolatedModules guarantees is safe; `npm run typecheck` is the type
// check), plus the web console's static files, which the server finds beside its code
// (src/api/console-assets.ts: ../console/ from dist/api/ is dist/console/).
import { cpSync, existsSync, renameSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
// Another directory may be named (the packaging test builds a deployment apart from the checkout).
const out = resolve(root, process.argv[2] ?? "dist");
// Built beside and swapped in at the end: a server started from dist/ meanwhile (`npm start`
// rebuilds it) never finds it half-written or half-deleted.
const building = `${out}.building-${process.pid}`;
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
const old = `${out}.old-${process.pid}`;
if (existsSync(out)) renameSync(out, old);
renameSync(building, out);
rmSync(old, { recursive: true, force: true });
console.log(`built ${out}`);
