/**
 * The LangGraph circuit breaker (src/coordinator/circuit.ts, wired in queue-do.ts): an attempt
 * that finds LangGraph unreachable goes back to the queue without spending a retry, the queue
 * stops dispatching, probes with one job after 1 s (then 2 s, 4 s … up to 15 s), and resumes
 * when LangGraph answers. Here MAX_CONCURRENCY=2 and JOB_TIMEOUT_SECONDS is the default hour.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PROBE_FIRST_MS } from "../../src/coordinator/circuit";
import { freshCoordinator, job, statusOf } from "../support/jobs";

const HOUR_MS = 3_600_000;
const down = { error: "LangGraph unreachable at http://127.0.0.1:9: connection refused", retryable: true, unreachable: true };

/** Three jobs: two dispatched and claimed, one waiting. */
async function busyQueue(now: number) {
  const queue = freshCoordinator();
  for (const id of ["a", "b", "c"]) await queue.enqueue(job(id), now);
  for (const id of ["a", "b"]) expect(await queue.claim(id, 1, now)).toMatchObject({ ok: true });
  return queue;
}

const dispatchedIds = async (queue: ReturnType<typeof freshCoordinator>, ids: string[]) => {
  const statuses = await Promise.all(ids.map((id) => statusOf(queue, id)));
  return ids.filter((_, i) => statuses[i]!.queuePosition === 0);
};

describe("LangGraph circuit breaker", () => {
  it("puts an attempt that found LangGraph unreachable back, unspent, and stops dispatching", async () => {
    const now = Date.now();
    const queue = await busyQueue(now);
    expect(await queue.fail("a", 1, down, now + 10)).toMatchObject({ ok: true, data: { state: "queued" } });
    expect(await statusOf(queue, "a")).toMatchObject({ status: "queued", retryCount: 0, nextRetryAt: null, error: down.error });
    // A slot is free, but nothing is dispatched while the circuit is open.
    expect(await dispatchedIds(queue, ["a", "c"])).toEqual([]);
    const stats = await queue.stats();
    expect(stats.langgraph).toEqual({ circuit: "open", openedAt: new Date(now + 10).toISOString(), nextProbeAt: new Date(now + 10 + PROBE_FIRST_MS).toISOString() });
    expect(await runInDurableObject(queue, (_, state) => state.storage.getAlarm())).toBe(now + 10 + PROBE_FIRST_MS);
  });

  it("probes with one job once the delay has passed, doubles the delay when the probe fails too, and resumes when LangGraph answers", async () => {
    const now = Date.now();
    const queue = await busyQueue(now);
    await queue.fail("a", 1, down, now);
    await queue.fail("b", 1, down, now);
    await queue.runTimers(now + PROBE_FIRST_MS - 1);
    expect(await dispatchedIds(queue, ["a", "b", "c"])).toEqual([]);

    // Half-open: exactly one probe though two slots are free: "c", the best job that has not met the outage.
    await queue.runTimers(now + PROBE_FIRST_MS);
    expect(await dispatchedIds(queue, ["a", "b", "c"])).toEqual(["c"]);
    expect((await queue.stats()).langgraph.circuit).toBe("half_open");

    // The probe finds LangGraph down too: open again, for twice as long.
    const probeFailedAt = now + PROBE_FIRST_MS + 50;
    await queue.claim("c", 1, probeFailedAt);
    await queue.fail("c", 1, down, probeFailedAt);
    expect((await queue.stats()).langgraph).toMatchObject({ circuit: "open", nextProbeAt: new Date(probeFailedAt + 2 * PROBE_FIRST_MS).toISOString() });

    // Every ready job has met the outage now: the best of them ("a") probes. Its run is created,
    // LangGraph answers, and the other slot fills at once.
    await queue.runTimers(probeFailedAt + 2 * PROBE_FIRST_MS);
    expect(await dispatchedIds(queue, ["a", "b", "c"])).toEqual(["a"]);
    expect(await queue.claim("a", 2, probeFailedAt + 2 * PROBE_FIRST_MS)).toMatchObject({ ok: true });
    await queue.report("a", 2, { runId: "run-a" }, probeFailedAt + 2 * PROBE_FIRST_MS + 5);
    expect((await queue.stats()).langgraph.circuit).toBe("closed");
    expect(await dispatchedIds(queue, ["b", "c"])).toEqual(["b"]);
    expect(await statusOf(queue, "a")).toMatchObject({ status: "running", retryCount: 0 });
  });

  it("still spends retries on runs that failed with an answer from LangGraph", async () => {
    const now = Date.now();
    const queue = await busyQueue(now);
    await queue.fail("a", 1, { error: "LangGraph answered 503", retryable: true }, now);
    expect(await statusOf(queue, "a")).toMatchObject({ status: "queued", retryCount: 1 });
    expect((await queue.stats()).langgraph.circuit).toBe("closed");
  });

  it("fails a job for an outage only once it has lasted JOB_TIMEOUT_SECONDS", async () => {
    const now = Date.now();
    const queue = await busyQueue(now);
    await queue.cancel("c", now);
    // "b" ends before the outage, so that "a" is the only job left to probe with.
    await queue.complete("b", 1, {}, now);
    await queue.fail("a", 1, down, now);
    await queue.runTimers(now + HOUR_MS - 1000);
    expect(await queue.claim("a", 2, now + HOUR_MS - 1000)).toMatchObject({ ok: true });
    await queue.fail("a", 2, down, now + HOUR_MS);
    const status = await statusOf(queue, "a");
    expect(status).toMatchObject({ status: "failed", retryCount: 0 });
    expect(status.error).toMatch(/LangGraph unreachable for more than 3600s/);
  });
});

describe("a job whose own requests never get through", () => {
  it("is not the probe while another job is ready, and spends its retries once LangGraph has answered others", async () => {
    const now = Date.now();
    const queue = await busyQueue(now);
    // "a" loses its connection; "b" finishes fine later. "c" waits.
    await queue.fail("a", 1, down, now);
    await queue.runTimers(now + PROBE_FIRST_MS);
    // The probe is "c", which has not met the outage, though "a" ranks first.
    expect(await dispatchedIds(queue, ["a", "c"])).toEqual(["c"]);
    await queue.claim("c", 1, now + PROBE_FIRST_MS);
    await queue.report("c", 1, { runId: "run-c" }, now + PROBE_FIRST_MS + 5);
    expect((await queue.stats()).langgraph.circuit).toBe("closed");
    // "a" is dispatched again and again finds LangGraph unreachable: now that costs a retry, and the circuit stays closed.
    await queue.complete("b", 1, {}, now + PROBE_FIRST_MS + 10);
    expect(await queue.claim("a", 2, now + PROBE_FIRST_MS + 10)).toMatchObject({ ok: true });
    await queue.fail("a", 2, down, now + PROBE_FIRST_MS + 20);
    const status = await statusOf(queue, "a");
    expect(status).toMatchObject({ status: "queued", retryCount: 1 });
    expect(status.error).toMatch(/answered other jobs meanwhile/);
    expect((await queue.stats()).langgraph.circuit).toBe("closed");
  });
});
