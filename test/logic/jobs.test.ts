import { describe, expect, it } from "vitest";
import { backoffDelayMs, canonicalJson, estimateCompletionMs, estimateWaitSeconds, publicStatus } from "../../src/jobs";

describe("backoffDelayMs", () => {
  const policy = { baseMs: 5000, maxMs: 300_000 };

  it("doubles per retry, between half and all of the nominal delay", () => {
    expect(backoffDelayMs(1, policy, () => 0)).toBe(2500);
    expect(backoffDelayMs(1, policy, () => 1)).toBe(5000);
    expect(backoffDelayMs(2, policy, () => 1)).toBe(10_000);
    expect(backoffDelayMs(4, policy, () => 0.5)).toBe(30_000);
  });

  it("is capped at maxMs however many retries", () => {
    expect(backoffDelayMs(10, policy, () => 1)).toBe(300_000);
    expect(backoffDelayMs(50, policy, () => 0)).toBe(150_000);
  });

  it("spreads retries that fail together (jitter)", () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelayMs(3, policy)));
    expect(delays.size).toBeGreaterThan(1);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(10_000);
  });
});

describe("estimateWaitSeconds", () => {
  it("is zero while a slot is free for the job", () => {
    expect(estimateWaitSeconds({ jobsAhead: 0, running: 0, concurrency: 5, avgProcessSeconds: 60 })).toBe(0);
    expect(estimateWaitSeconds({ jobsAhead: 3, running: 1, concurrency: 5, avgProcessSeconds: 60 })).toBe(0);
  });

  it("counts waves of `concurrency` jobs once every slot is taken", () => {
    // 5 running, 2 ahead: the job starts in the first wave of freed slots.
    expect(estimateWaitSeconds({ jobsAhead: 2, running: 5, concurrency: 5, avgProcessSeconds: 60 })).toBe(60);
    // 5 running, 7 ahead: 5 of them take the first wave, the job goes in the second.
    expect(estimateWaitSeconds({ jobsAhead: 7, running: 5, concurrency: 5, avgProcessSeconds: 60 })).toBe(120);
    expect(estimateWaitSeconds({ jobsAhead: 2, running: 1, concurrency: 1, avgProcessSeconds: 40 })).toBe(120);
  });
});

describe("estimateCompletionMs", () => {
  it("extrapolates from the progress rate", () => {
    // 25% done after 30 s: 90 s to go.
    expect(estimateCompletionMs({ startedAtMs: 0, progress: 25, avgProcessSeconds: 600, now: 30_000 })).toBe(120_000);
  });

  it("falls back to the average time before there is progress", () => {
    expect(estimateCompletionMs({ startedAtMs: 1000, progress: 0, avgProcessSeconds: 60, now: 2000 })).toBe(61_000);
    // Never in the past, even when the job is slower than average.
    expect(estimateCompletionMs({ startedAtMs: 0, progress: 0, avgProcessSeconds: 60, now: 90_000 })).toBe(90_000);
  });
});

describe("canonicalJson", () => {
  it("ignores key order, at every depth", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });
});

describe("publicStatus", () => {
  it("shows a job waiting out its backoff as queued, never failed", () => {
    expect(publicStatus("delayed")).toBe("queued");
    expect(publicStatus("failed")).toBe("failed");
  });
});
