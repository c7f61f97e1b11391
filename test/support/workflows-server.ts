/**
 * A small real HTTP server that implements the seed's LangGraph wrapper contract
 * (`POST /workflows/execute`, `GET /health`), started once for the test run (vitest
 * globalSetup) and stopped at the end. Tests steer it through the job payload:
 *   delayMs           answer after this long (a "long" run that can be cancelled)
 *   failTimes         answer 503 to the first N calls for this job's thread
 *   failStatus        always answer with this HTTP status (400 = rejected input, 503 = down)
 * `GET /calls/<threadId>` tells how many times a job's workflow was called, and
 * `GET /api-key-uses/<key>` how many requests carried that `x-api-key`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

interface ExecuteBody {
  workflow_id: string;
  input: { delayMs?: number; failTimes?: number; failStatus?: number; [key: string]: unknown };
  config: { thread_id?: string; job_id?: string };
}

export function startWorkflowsServer(): Promise<{ url: string; server: Server }> {
  const calls = new Map<string, number>();
  const threads = new Map<string, string[]>();
  const apiKeyUses = new Map<string, number>();
  const server = createServer(async (req, res) => {
    const apiKey = req.headers["x-api-key"];
    if (typeof apiKey === "string") apiKeyUses.set(apiKey, (apiKeyUses.get(apiKey) ?? 0) + 1);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    if (req.method === "GET" && req.url === "/health") return reply(200, { status: "ok" });
    if (req.method === "GET" && req.url?.startsWith("/calls/")) {
      return reply(200, { calls: calls.get(decodeURIComponent(req.url.slice("/calls/".length))) ?? 0 });
    }
    if (req.method === "GET" && req.url?.startsWith("/threads/")) {
      return reply(200, { threads: threads.get(decodeURIComponent(req.url.slice("/threads/".length))) ?? [] });
    }
    if (req.method === "GET" && req.url?.startsWith("/api-key-uses/")) {
      return reply(200, { uses: apiKeyUses.get(decodeURIComponent(req.url.slice("/api-key-uses/".length))) ?? 0 });
    }
    if (req.method !== "POST" || req.url !== "/workflows/execute") return reply(404, { error: "not found" });

    let text = "";
    for await (const chunk of req) text += chunk;
    const body = JSON.parse(text) as ExecuteBody;
    const jobId = body.config.job_id ?? "(none)";
    const call = (calls.get(jobId) ?? 0) + 1;
    calls.set(jobId, call);
    threads.set(jobId, [...new Set([...(threads.get(jobId) ?? []), body.config.thread_id ?? "(none)"])]);

    const { delayMs = 0, failTimes = 0, failStatus } = body.input;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (failStatus) return reply(failStatus, { error: `workflow failed with ${failStatus} (asked by the test)` });
    if (call <= failTimes) return reply(503, { error: `temporarily unavailable (call ${call} of ${failTimes} failing)` });
    return reply(200, { status: "completed", result: { workflow: body.workflow_id, input: body.input, call } });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server });
    });
  });
}

export default async function setup(project: TestProject) {
  const { url, server } = await startWorkflowsServer();
  project.provide("workflowsUrl", url);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
