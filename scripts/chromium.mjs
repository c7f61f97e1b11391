#!/usr/bin/env node
// A throwaway headless Chromium, for the dashboard's end-to-end test (test/e2e/dashboard.test.ts),
// which drives it with playwright-core over the DevTools protocol (`chromium.connectOverCDP`).
//
//   node scripts/chromium.mjs                 # prints its DevTools URL, stops on Ctrl-C
//   import { startChromium } from "./scripts/chromium.mjs"
//
// Debian's `chromium` (playwright's own download needs the internet). If it is missing and this
// runs as root on Debian, it is installed with apt-get (and the script says so), as
// scripts/redis-server.mjs does for Redis: so `npm test` needs nothing installed by hand, on a
// developer's machine as in CI. Otherwise it is an error that says what to install.
//
// It runs with a fresh profile in a temp dir that stop() removes, no sandbox (root cannot have
// Chromium's), no GPU, and none of the background traffic (updates, sync, QUIC): this machine has
// no internet and nothing should try it.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { aptInstall, findExecutable } from "./debian-tool.mjs";

const STOP_GRACE_MS = 5_000;
const NAMES = ["chromium", "chromium-browser"];

/**
 * Starts Chromium and resolves once its DevTools endpoint is listening.
 * @param {object} [options]
 * @param {number} [options.timeoutMs] how long to wait for the DevTools endpoint; default 30000
 * @param {boolean} [options.install] install Debian's chromium if it is missing (root only); default true
 * @param {(line: string) => void} [options.say] where notices go (the apt-get install); default console.error
 * @returns {Promise<{wsEndpoint: string, pid: number, binary: string, version: string, userDataDir: string, stop(): Promise<void>}>}
 */
export async function startChromium(options = {}) {
  const say = options.say ?? ((line) => console.error(line));
  const binary = findChromium() ?? (options.install === false ? null : aptInstall("chromium", findChromium, say));
  if (!binary) throw new Error(missingMessage());
  const version = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.trim() || "unknown";
  const userDataDir = await mkdtemp(join(tmpdir(), "queue-worker-chromium-"));
  const args = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    `--user-data-dir=${userDataDir}`, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank",
  ];
  // Its own process group, so that stop() reaches the renderers and helpers too.
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  const exited = once(child, "exit");
  let exitCode;
  void exited.then(([code, signal]) => (exitCode = code ?? signal));
  const killOnExit = () => killGroup(child.pid, "SIGKILL");
  process.once("exit", killOnExit);

  let stopping;
  const stop = () =>
    (stopping ??= (async () => {
      process.removeListener("exit", killOnExit);
      if (exitCode === undefined) {
        killGroup(child.pid, "SIGTERM");
        const timer = setTimeout(() => killGroup(child.pid, "SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
    })());

  try {
    const wsEndpoint = await devToolsEndpoint(child, options.timeoutMs ?? 30_000, () => exitCode);
    return { wsEndpoint, pid: child.pid, binary, version, userDataDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Chromium prints `DevTools listening on ws://…` on stderr once it is ready. */
async function devToolsEndpoint(child, timeoutMs, exitCode) {
  let output = "";
  const lines = createInterface({ input: child.stderr, crlfDelay: Infinity });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`Chromium did not open its DevTools endpoint within ${timeoutMs} ms: ${output.slice(-2000)}`)), timeoutMs).unref());
  const found = (async () => {
    for await (const line of lines) {
      output += `${line}\n`;
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(line);
      if (match) {
        // Keep reading (and dropping) what it says later, so that its pipe never fills up.
        child.stderr.resume();
        return match[1];
      }
    }
    throw new Error(`Chromium exited (${exitCode()}) before opening its DevTools endpoint: ${output.slice(-2000)}`);
  })();
  return Promise.race([found, timeout]);
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // gone already
  }
}

/** chromium on PATH, or where Debian puts it. */
export function findChromium() {
  return findExecutable(NAMES);
}

function missingMessage() {
  return "chromium is not installed and cannot be installed from here (that needs root on Debian). "
    + "Install it (Debian/Ubuntu: sudo apt-get install chromium) or put it on PATH.";
}

const isMain = Boolean(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const browser = await startChromium();
  console.log(`${browser.version}: ${browser.wsEndpoint} (pid ${browser.pid}); Ctrl-C stops it`);
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, async () => {
      await browser.stop();
      process.exit(0);
    });
  }
}
