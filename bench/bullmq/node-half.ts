/**
 * The Node half of `npm run bench:bullmq`: Redis (scripts/redis-server.mjs), BullMQ's rounds,
 * the two HTTP endpoints of target 5, and a small control server on 127.0.0.1 through which the
 * workerd half (bench/bullmq.bench.ts) has BullMQ's rounds run one at a time, so that the two
 * sides alternate and never overlap. The workerd half posts its report back here.
 *
 * Loaded by the global setup (setup.ts) as a native Node module, outside Vite, which resolves
 * packages for workerd in this config and would hand BullMQ its browser builds.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { startRedisServer } from "../../scripts/redis-server.mjs";
import { BullmqSide } from "./bullmq-side";
import { startHttpServers } from "./http-servers";
import type { BenchSizes, HttpRoute, HttpTarget, RunnerInfo } from "./protocol";

export interface NodeHalf {
  info: RunnerInfo;
  /** The report the workerd half posted, if it got that far. */
  report(): string | null;
  /** Stops everything this half started: the control server, the HTTP endpoints, Redis. */
  stop(): Promise<void>;
}

export async function startNodeHalf(options: { rootDir: string; sizes: BenchSizes; say(line: string): void }): Promise<NodeHalf> {
  const { rootDir, sizes, say } = options;
  const startedAtMs = Date.now();
  const cleanups: (() => unknown)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        say(`cleanup failed: ${String(error)}`);
      }
    }
  };

  try {
    const redis = await startRedisServer({ say, durable: sizes.redisDurable });
    cleanups.push(() => redis.stop());
    say(`redis-server ${redis.version} on ${redis.url} (pid ${redis.pid})`);
    const bullmq = new BullmqSide(redis.url);
    cleanups.push(() => bullmq.close());
    const http = sizes.http ? await startHttpServers({ rootDir, redisUrl: redis.url, redisPid: redis.pid, sizes }) : null;
    if (http) {
      cleanups.push(() => http.stop());
      say(`HTTP endpoints: the Worker on workerd via Miniflare at ${http.urls.workerd}, BullMQ behind Node http at ${http.urls.bullmq}`);
    }

    let report: string | null = null;
    const routes: Record<string, (body: any) => Promise<unknown>> = {
      "/bullmq/single": (b: { jobs: number }) => bullmq.single(b.jobs),
      "/bullmq/floor": (b: { kind: "ping" | "counts"; calls: number }) => bullmq.floor(b.kind, b.calls),
      "/bullmq/batch": (b: { jobs: number; batchSize: number }) => bullmq.batch(b.jobs, b.batchSize),
      "/bullmq/lifecycle": (b: { jobs: number; concurrency: number; queuedFirst: boolean }) => bullmq.lifecycle(b.jobs, b.concurrency, b.queuedFirst),
      "/http/load": async (b: { target: HttpTarget; route: HttpRoute; queueName: string; seconds: number }) => {
        if (!http) throw new Error("the HTTP comparison is off (BENCH_HTTP=0)");
        return http.load(b.target, b.route, b.queueName, b.seconds);
      },
      "/report": async (b: { markdown: string }) => {
        report = b.markdown;
        return {};
      },
    };
    const control = createServer(async (req, res) => {
      try {
        const route = routes[req.url ?? ""];
        if (!route || req.method !== "POST") throw new Error(`no such control route: ${req.method} ${req.url}`);
        const result = JSON.stringify(await route(await jsonBody(req)));
        res.writeHead(200, { "content-type": "application/json" }).end(result);
      } catch (error) {
        res.writeHead(500, { "content-type": "text/plain" }).end(error instanceof Error ? (error.stack ?? error.message) : String(error));
      }
    });
    await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => {
      control.closeAllConnections();
      return new Promise((resolve) => control.close(resolve));
    });

    const version = (name: string) => (JSON.parse(readFileSync(join(rootDir, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
    return {
      info: {
        url: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
        sizes,
        machine: `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}`,
        versions: {
          node: process.version, workerd: version("workerd"), miniflare: version("miniflare"), wrangler: version("wrangler"),
          bullmq: version("bullmq"), ioredis: version("ioredis"), redis: redis.version, autocannon: version("autocannon"),
        },
        startedAtMs,
      },
      report: () => report,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}
