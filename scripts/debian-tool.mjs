// Finding a tool the tests start (redis-server, chromium), and installing it from Debian's
// packages when it is missing: with apt-get, and only as root on Debian, so that `npm test` needs
// nothing installed by hand on a fresh machine (CI's) and never touches a developer's system
// without their rights. Shared by scripts/redis-server.mjs and scripts/chromium.mjs.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/** The first of `names` that is executable on PATH or in the directories where Debian puts programs, or null. */
export function findExecutable(names) {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/bin", "/usr/local/bin", "/usr/sbin"];
  for (const dir of dirs) {
    for (const name of names) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/**
 * Installs Debian's `pkg` with apt-get (its package lists refreshed first if the install fails)
 * when running as root on Debian, then finds its program with `find`; null when it cannot install.
 * `say` gets what it does, as it takes a while.
 */
export function aptInstall(pkg, find, say) {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (!root || !existsSync("/etc/debian_version") || !existsSync("/usr/bin/apt-get")) return null;
  say(`${pkg} is not installed: installing Debian's ${pkg} with apt-get (running as root) ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["install", "-y", "--no-install-recommends", pkg], { env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  let result = install();
  if (result.status !== 0) {
    say("apt-get install failed; running apt-get update and trying again ...");
    spawnSync("apt-get", ["update"], { env, stdio: ["ignore", "pipe", "pipe"] });
    result = install();
  }
  if (result.status !== 0) throw new Error(`apt-get install ${pkg} failed (${result.status}): ${(result.stderr || result.stdout).trim().slice(-2000)}`);
  const binary = find();
  if (binary) say(`installed ${binary}`);
  return binary;
}
