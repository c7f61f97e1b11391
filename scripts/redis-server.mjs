#!/usr/bin/env node
// A throwaway Redis server on 127.0.0.1, for the BullMQ side of the benchmarks (issue #8).
//
//   node scripts/redis-server.mjs            # prints its URL, stops on Ctrl-C
//   import { startRedisServer } from "./scripts/redis-server.mjs"  (bench global setup)
//
// Debian's `redis-server` on a free port, nothing persisted (`--save "" --appendonly no`; with
// `durable`, an append-only file fsynced before each answer, `--appendfsync always`), its
// working directory a temp dir that stop() removes. If the binary is missing and this runs as
// root on Debian, it is installed with apt-get (and the script says so); otherwise it is an error
// that says what to install.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { aptInstall, findExecutable } from "./debian-tool.mjs";

const HOST = "127.0.0.1";
const STOP_GRACE_MS = 5_000;

/**
 * Starts redis-server and resolves once it answers PING.
 * @param {object} [options]
 * @param {number} [options.timeoutMs] how long to wait for PONG; default 10000
 * @param {boolean} [options.install] install Debian's redis-server if it is missing (root only); default true
 * @param {(line: string) => void} [options.say] where notices go (the apt-get install); default console.error
 * @param {boolean} [options.durable] every write on disk before Redis answers (appendfsync always); default false
 * @returns {Promise<{url: string, host: string, port: number, pid: number, binary: string, version: string, stop(): Promise<void>}>}
 */
export async function startRedisServer(options = {}) {
  const say = options.say ?? ((line) => console.error(line));
  const binary = findRedisServer() ?? (options.install === false ? null : aptInstall("redis-server", findRedisServer, say));
  if (!binary) throw new Error(missingMessage());
  const version = /v=(\S+)/.exec(spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout)?.[1] ?? "unknown";
  const dir = await mkdtemp(join(tmpdir(), "queue-worker-redis-"));
  try {
    // The port is free when picked but may be taken before redis binds it: try a few.
    for (let tries = 1; ; tries++) {
      const port = await freePort();
      const started = await launch(binary, port, dir, options.timeoutMs ?? 10_000, options.durable ?? false);
      if (started.server) return { ...started.server, binary, version, stop: () => started.server.stop().finally(() => rm(dir, { recursive: true, force: true })) };
      if (tries >= 3 || !/address already in use/i.test(started.output)) {
        throw new Error(`redis-server did not start on ${HOST}:${port}: ${started.output.trim() || "no output"}`);
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(binary, port, dir, timeoutMs, durable) {
  const persistence = durable ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
  const args = [
    "--bind", HOST, "--port", String(port), "--save", "", ...persistence, "--dir", dir,
    "--daemonize", "no", "--protected-mode", "yes", "--logfile", "", "--loglevel", "warning",
  ];
  const child = spawn(binary, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk) => (output = (output + chunk).slice(-4000));
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = once(child, "exit");
  let exitCode;
  void exited.then(([code, signal]) => (exitCode = code ?? signal));
  // Should the starting process exit without stop() (a crash), the server goes with it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (exitCode === undefined) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => exitCode === undefined && child.kill("SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) return { output: `exited (${exitCode}): ${output}` };
    if (await pongs(port)) {
      child.stdout.removeListener("data", collect);
      child.stderr.removeListener("data", collect);
      child.stdout.resume();
      child.stderr.resume();
      return { server: { url: `redis://${HOST}:${port}`, host: HOST, port, pid: child.pid, stop } };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  return { output: `no PONG within ${timeoutMs} ms: ${output}` };
}

/** Whether a Redis server on `port` answers PING with PONG. */
function pongs(port) {
  return new Promise((resolvePong) => {
    const socket = connect({ host: HOST, port });
    let reply = "";
    const done = (answer) => {
      socket.destroy();
      resolvePong(answer);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk;
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

/** A port nobody listens on right now (the OS picks it). */
async function freePort() {
  const server = createServer();
  await new Promise((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, resolveListen);
  });
  const { port } = server.address();
  await new Promise((resolveClose) => server.close(resolveClose));
  return port;
}

/** redis-server on PATH, or where Debian puts it. */
export function findRedisServer() {
  return findExecutable(["redis-server"]);
}

function missingMessage() {
  return "redis-server is not installed and cannot be installed from here (that needs root on Debian). "
    + "Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or put it on PATH.";
}

// import.meta.url is undefined where this file is bundled into CommonJS (the benchmark).
const isMain = Boolean(import.meta.url) && Boolean(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  // No top-level await: the benchmark bundles this file into a CommonJS module.
  startRedisServer().then((server) => {
    console.log(`redis-server ${server.version}: ${server.url} (pid ${server.pid}); Ctrl-C stops it`);
    for (const sig of ["SIGINT", "SIGTERM"]) {
      process.once(sig, async () => {
        await server.stop();
        process.exit(0);
      });
    }
  }, (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
