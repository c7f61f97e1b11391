/**
 * What the benches' global setups (Node) share: the small HTTP server their workerd half calls
 * (to read workerd's memory, print a progress line, hand in its report), and a line naming the machine.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, release, totalmem } from "node:os";

/** A route's handler: the request body in, the JSON answer out. */
export type ControlRoutes = Record<string, (body: string) => unknown>;

/** Serves `routes` (keyed `"METHOD /path"`) on 127.0.0.1; an unknown route or a throw answers 500 with the error. */
export async function serveControl(routes: ControlRoutes): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(async (req, res) => {
    try {
      const route = routes[`${req.method} ${req.url}`];
      if (!route) throw new Error(`no such route: ${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify((await route(await textBody(req))) ?? {}));
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain" }).end(error instanceof Error ? (error.stack ?? error.message) : String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function textBody(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

export const machineLine = (): string => `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}`;
