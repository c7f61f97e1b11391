/**
 * Global setup of `npm run bench:bullmq` (Node): starts the Node half (node-half.ts: Redis,
 * BullMQ, the HTTP endpoints, the control server) and hands its address to the workerd half.
 * Teardown prints the report the workerd half posted, writes it to
 * .wrangler/bench/bullmq/results.md, and stops every process the Node half started.
 *
 * The Node half is bundled by esbuild and loaded with Node's own require(): this config's Vite
 * resolves packages with workerd's conditions (BullMQ would get browser builds), and Vite's
 * module runner has no native import().
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import type { startNodeHalf } from "./node-half";
import type { BenchSizes } from "./protocol";

const ROOT_DIR = fileURLToPath(new URL("../..", import.meta.url));
const OUT_DIR = join(ROOT_DIR, ".wrangler", "bench", "bullmq");
const say = (line: string) => console.log(`[bench:bullmq] ${line}`);
/** Node's own require(), which Vite leaves alone. */
const nodeRequire = createRequire(join(ROOT_DIR, "package.json"));

const setting = (name: string, fallback: number, min = 1): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, not ${process.env[name]}`);
  return value;
};

function benchSizes(): BenchSizes {
  return {
    rounds: setting("BENCH_ROUNDS", 5),
    singleJobs: setting("BENCH_SINGLE_JOBS", 500),
    batchJobs: setting("BENCH_BATCH_JOBS", 2000),
    batchSize: setting("BENCH_BATCH_SIZE", 100),
    lifecycleJobs: setting("BENCH_LIFECYCLE_JOBS", 1000),
    concurrency: setting("BENCH_CONCURRENCY", 8),
    redisDurable: setting("BENCH_REDIS_DURABLE", 0, 0) > 0,
    http: setting("BENCH_HTTP", 1, 0) > 0,
    httpRounds: setting("BENCH_HTTP_ROUNDS", 3),
    httpSeconds: setting("BENCH_HTTP_SECONDS", 3),
    httpConnections: setting("BENCH_HTTP_CONNECTIONS", 10),
  };
}

export default async function setup(project: TestProject) {
  mkdirSync(OUT_DIR, { recursive: true });
  const esbuild = nodeRequire("esbuild") as typeof import("esbuild");
  const bundle = join(OUT_DIR, "node-half.cjs");
  await esbuild.build({
    entryPoints: [join(ROOT_DIR, "bench", "bullmq", "node-half.ts")], outfile: bundle,
    bundle: true, platform: "node", format: "cjs", target: "node20", packages: "external", logLevel: "error",
  });
  delete nodeRequire.cache[bundle];
  const { startNodeHalf: start } = nodeRequire(bundle) as { startNodeHalf: typeof startNodeHalf };
  const half = await start({ rootDir: ROOT_DIR, sizes: benchSizes(), say });
  project.provide("bullmqRunner", half.info);

  return async () => {
    await half.stop();
    const report = half.report();
    if (report) {
      const path = join(OUT_DIR, "results.md");
      writeFileSync(path, `${report}\n`);
      console.log(`\n${report}\n\n(also in ${path})`);
    } else {
      say("no report: the workerd half did not finish (see its error above)");
    }
    say(`stopped Redis${half.info.sizes.http ? ", both HTTP endpoints" : ""} and the control server; ${Math.round((Date.now() - half.info.startedAtMs) / 1000)} s after they started`);
  };
}
