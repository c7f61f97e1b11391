/**
 * Global setup of `npm run bench:sweep` (Node): the two LangGraphs that are down, as the
 * workerd half (bench/sweep.bench.ts) sees them.
 *
 *   refusedUrl  a port reserved and closed again: nothing listens, a connection is refused at once
 *   silentUrl   a server that accepts every connection and never answers: each call waits out its timeout
 */
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

export default async function setup(project: TestProject) {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const refusedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));

  const held = new Set<Socket>();
  const silent = createServer((socket) => {
    held.add(socket);
    socket.on("close", () => held.delete(socket));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));

  project.provide("refusedUrl", `http://127.0.0.1:${refusedPort}`);
  project.provide("silentUrl", `http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
  return async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  };
}
