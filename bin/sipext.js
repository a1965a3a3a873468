#!/usr/bin/env -S node --max-semi-space-size=64
// (The Node flags of `npm start`: README "Decisions", a young generation of 64 MiB.)
// The package's `sipext` command: the compiled code in dist/ (`npm run build`) when it is there
// and no older than the sources beside it; otherwise (a development checkout, edited since the
// last build) the TypeScript sources through tsx, a dev dependency.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const built = `${root}dist/cli/main.js`;

/** True when a file under src/ changed after the build (a deployment has no src/: false). */
function sourcesNewerThan(ms) {
  const src = `${root}src`;
  if (!existsSync(src)) return false;
  for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && statSync(`${e.parentPath}/${e.name}`).mtimeMs > ms) return true;
  }
  return false;
}

if (existsSync(built) && !sourcesNewerThan(statSync(built).mtimeMs)) {
  await import(built);
} else {
  const { register } = await import("tsx/esm/api").catch(() => {
    process.stderr.write("sipext: no dist/ build and no tsx: run `npm run build` (or `npm install`)\n");
    process.exit(2);
  });
  register();
  await import("../src/cli/main.ts");
}
