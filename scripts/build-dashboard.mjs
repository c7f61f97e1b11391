#!/usr/bin/env node
// Builds the dashboard (GET /dashboard) from dashboard/ into public/, the directory wrangler.jsonc
// serves as Workers Static Assets (what is built there is not committed):
//
//   public/dashboard.html        dashboard/index.html (served at /dashboard: html_handling drops ".html")
//   public/dashboard/app.js      dashboard/src/main.tsx with Preact, uPlot and the typed client
//                                (src/client/) bundled in, for browsers; its CSS (uPlot's) beside it
//   public/dashboard/style.css   dashboard/style.css
//
// Run by `npm install` / `npm ci` (the `prepare` script), by `npm start` before it starts the
// Worker, and by the dashboard's e2e test; by hand: `node scripts/build-dashboard.mjs`. Takes
// well under a second.
import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const PUBLIC_DIR = join(root, "public");

/** Builds public/ afresh; resolves with the files written, relative to the repository. */
export async function buildDashboard({ logLevel = "warning" } = {}) {
  const source = join(root, "dashboard");
  const out = join(PUBLIC_DIR, "dashboard");
  // public/ itself is committed (its .gitignore and .assetsignore), so that wrangler finds the
  // assets directory in any checkout; what is built in it is replaced, never the directory, which
  // a running `wrangler dev` or test may be serving.
  rmSync(out, { recursive: true, force: true });
  rmSync(join(PUBLIC_DIR, "dashboard.html"), { force: true });
  mkdirSync(out, { recursive: true });
  copyFileSync(join(source, "index.html"), join(PUBLIC_DIR, "dashboard.html"));
  copyFileSync(join(source, "style.css"), join(out, "style.css"));
  await build({
    entryPoints: [join(source, "src", "main.tsx")],
    absWorkingDir: root,
    outfile: join(out, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: true,
    sourcemap: "linked",
    logLevel,
    legalComments: "linked",
  });
  return ["dashboard.html", "dashboard/app.js", "dashboard/app.css", "dashboard/style.css"]
    .map((file) => join(PUBLIC_DIR, file))
    .filter((file) => statSync(file, { throwIfNoEntry: false }))
    .map((file) => relative(root, file));
}

const isMain = Boolean(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const files = await buildDashboard();
  console.log(`built the dashboard: ${files.map((file) => `${file} (${statSync(join(root, file)).size} bytes)`).join(", ")}`);
}
