#!/usr/bin/env node
// Builds what the package exports for use outside this repository, into dist/ (not committed):
//
//   dist/client/index.js        `queue-worker/client`: the typed client as one ES module, its one
//                               dependency (eventsource-parser) inside, no import of anything
//                               (so it loads as is in Node 20+, browsers, Deno, Supabase Edge
//                               Functions); refused if anything it imports is a Node built-in
//   dist/client/types/…         its declarations (tsc, src/client/tsconfig.json: the DOM's types,
//                               no Node's, no Workers'); request and response types are z.input /
//                               z.infer of the Worker's own schemas, so they need zod's types
//   dist/cli.js                 the `queue-worker` bin: src/cli/ with commander and cli-progress
//                               bundled, for Node 20+ (the machine's Node cannot run .ts)
//
// Run by `npm install` / `npm ci` (the `prepare` script) and by the tests that use dist/; by hand:
// `npm run build:client`. Takes a second or two.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const clientDir = join(dist, "client");
const typesDir = join(clientDir, "types");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

rmSync(clientDir, { recursive: true, force: true });
rmSync(join(dist, "cli.js"), { force: true });
mkdirSync(clientDir, { recursive: true });
// dist/ is build output: ignored by git without touching the root .gitignore; packed by npm (an
// .npmignore in the directory wins over its .gitignore), so a git dependency gets it.
writeFileSync(join(dist, ".gitignore"), "# build output of scripts/build-client.mjs\n*\n");
writeFileSync(join(dist, ".npmignore"), "# packed: build output of scripts/build-client.mjs\n");

// The client: platform "neutral", so that esbuild assumes no runtime's built-ins.
const client = await build({
  entryPoints: [join(root, "src/client/index.ts")],
  absWorkingDir: root,
  outfile: join(clientDir, "index.js"),
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
  legalComments: "inline",
});
const imports = clientImports(client.metafile);
const nodeOnly = imports.filter((path) => path.startsWith("node:") || isNodeBuiltin(path));
if (nodeOnly.length > 0) throw new Error(`the client must not import Node built-ins, but imports ${nodeOnly.join(", ")}`);
const external = Object.values(client.metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path));
if (external.length > 0) throw new Error(`the client's bundle must import nothing, but imports ${external.join(", ")}`);

// Its declarations. Relative specifiers get ".js", so that they resolve under every
// moduleResolution (node16/nodenext need it; bundler takes it too).
const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "src/client/tsconfig.json")], {
  cwd: root,
  encoding: "utf8",
});
if (tsc.status !== 0) throw new Error(`tsc (client declarations) failed:\n${tsc.stdout}${tsc.stderr}`);
for (const file of walk(typesDir).filter((path) => path.endsWith(".d.ts"))) {
  const text = readFileSync(file, "utf8");
  writeFileSync(file, text.replace(/((?:from\s+|import\()\s*)(["'])(\.\.?\/[^"']+?)\2/g, (match, lead, quote, path) => (/\.[cm]?js$/.test(path) ? match : `${lead}${quote}${path}.js${quote}`)));
}
writeFileSync(join(clientDir, "index.d.ts"), `export * from "./types/client/index.js";\n`);

// The CLI. Its CommonJS dependencies (cli-progress) `require` Node built-ins: in an ES module
// bundle that needs a real `require`.
const cli = join(dist, "cli.js");
await build({
  entryPoints: [join(root, "src/cli/index.ts")],
  absWorkingDir: root,
  outfile: cli,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  logLevel: "warning",
  legalComments: "inline",
  define: { __QUEUE_WORKER_VERSION__: JSON.stringify(version) },
  banner: {
    js: `#!/usr/bin/env node\nimport { createRequire as __queueWorkerCreateRequire } from "node:module";\nconst require = __queueWorkerCreateRequire(import.meta.url);`,
  },
});
chmodSync(cli, 0o755);

console.log(`built ${relative(root, join(clientDir, "index.js"))} (${statSync(join(clientDir, "index.js")).size} bytes, imports: ${imports.map((path) => relative(root, path)).join(", ")}), its types, and ${relative(root, cli)}`);

/** Every file the client's bundle was made of. */
function clientImports(metafile) {
  return Object.keys(metafile.inputs).map((path) => resolve(root, path)).concat(
    Object.values(metafile.inputs).flatMap((input) => input.imports.filter((i) => i.external).map((i) => i.path)),
  );
}

function isNodeBuiltin(path) {
  return /^(assert|buffer|child_process|crypto|events|fs|http|https|module|net|os|path|process|stream|string_decoder|timers|tls|url|util|worker_threads|zlib)(\/|$)/.test(path);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
}
