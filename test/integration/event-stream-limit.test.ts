/**
 * A live-status stream open longer than EVENT_STREAM_MAX_SECONDS (2 s in this project) ends
 * cleanly, and a reconnect with the last event's id carries on without losing a transition: the
 * whole Worker, its Queue consumer running the job on the workflows flavour's test server.
 */
import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";
import { AUTH, call, uniqueId } from "./http";

const events = (jobId: string, headers: Record<string, string> = {}) =>
  exports.default.fetch(`https://queue.test/functions/v1/queue-worker/jobs/${jobId}/events`, { headers: { ...AUTH, ...headers } });

/** Every event of a stream until the server ends it, and how long that took. */
async function readToEnd(response: Response) {
  const started = Date.now();
  const text = await response.text();
  const parsed = text.split("\n\n").filter((block) => block.includes("data:")).map((block) => ({
    event: /^event: (.*)$/m.exec(block)?.[1],
    id: /^id: (.*)$/m.exec(block)?.[1],
    data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!),
  }));
  return { events: parsed, text, ms: Date.now() - started };
}

it("ends a stream at its time limit, and the reconnect with Last-Event-ID gets every transition since", async () => {
  const jobId = uniqueId("long-watch");
  // The workflows test server sleeps delayMs before it answers: the job runs about 3 s.
  expect((await call({ action: "enqueue", job: { id: jobId, type: "data_sync", payload: { delayMs: 3000 } } })).status).toBe(201);

  // Watch as EventSource would: reconnect with the last id whenever the server ends the stream.
  const streams: Awaited<ReturnType<typeof readToEnd>>[] = [];
  for (let lastId: string | undefined; streams.length < 10; ) {
    const stream = await readToEnd(await events(jobId, lastId === undefined ? {} : { "last-event-id": lastId }));
    streams.push(stream);
    lastId = stream.events.at(-1)!.id;
    if (stream.events.at(-1)!.data.status === "completed") break;
  }
  const [first] = streams;
  expect(first!.text.startsWith("retry: 1000\n\n")).toBe(true);
  // The job outlasts a stream: the first ends at the limit, with the job not done yet.
  expect(streams.length).toBeGreaterThanOrEqual(2);
  expect(first!.ms).toBeGreaterThanOrEqual(1500);
  expect(first!.ms).toBeLessThan(6000);
  expect(["queued", "running"]).toContain(first!.events.at(-1)!.data.status);
  // The last stream ends with the job.
  const all = streams.flatMap((stream) => stream.events);
  expect(all.at(-1)).toMatchObject({ event: "status", data: { jobId, status: "completed" } });
  // Every transition of the job, across the streams, once each and in order: none lost on a reconnect.
  const history = (await call({ action: "history", jobId })).body.data.events as { event: string }[];
  const transitions = all.filter((e) => e.event === "transition");
  expect(transitions.map((e) => Number(e.id))).toEqual(transitions.map((_, i) => Number(transitions[0]!.id) + i));
  expect(transitions.map((e) => e.data.event)).toEqual(history.slice(Number(transitions[0]!.id) - 1).map((e) => e.event));
  expect(Number(all.at(-1)!.id)).toBe(history.length);
});
