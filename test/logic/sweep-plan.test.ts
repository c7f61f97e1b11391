/** The sweep's bounds: which runs a sweep checks, how many at once, and when it gives up on LangGraph. */
import { describe, expect, it } from "vitest";
import { forEachBounded, OutageBreaker, planChecks, rotatingWindow, Slots, SWEEP_LIMITS, sweepTurn } from "../../src/sweep-plan";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("rotatingWindow", () => {
  it("takes everything when it fits", () => {
    expect(rotatingWindow(range(5), 100, 7)).toEqual(range(5));
    expect(rotatingWindow([], 100, 7)).toEqual([]);
    expect(rotatingWindow(range(5), 0, 7)).toEqual([]);
  });

  it("gives every item its turn within ceil(n / size) consecutive sweeps, whatever the first turn", () => {
    for (const [n, size] of [[1000, 100], [150, 100], [101, 100], [7, 3], [999, 100]] as const) {
      const turns = Math.ceil(n / size);
      for (const first of [0, 1, 29_000_000, 29_123_457]) {
        const seen = new Set<number>();
        for (let turn = first; turn < first + turns; turn++) {
          const window = rotatingWindow(range(n), size, turn);
          expect(window).toHaveLength(size);
          expect(new Set(window).size).toBe(size);
          for (const item of window) seen.add(item);
        }
        expect(seen.size, `${n} items, ${size} per sweep, from turn ${first}`).toBe(n);
      }
    }
  });

  it("moves on a window each minute", () => {
    const minute = Date.UTC(2026, 0, 1, 12, 0);
    const first = rotatingWindow(range(1000), 100, sweepTurn(minute));
    const next = rotatingWindow(range(1000), 100, sweepTurn(minute + 60_000));
    expect(next[0]).toBe((first.at(-1)! + 1) % 1000);
    // Scheduled times within the same minute are the same turn.
    expect(sweepTurn(minute + 59_999)).toBe(sweepTurn(minute));
  });
});

describe("planChecks", () => {
  it("checks stopped jobs' runs first, in at most half the window, and fills the rest with unfinished ones", () => {
    const unfinished = range(1000).map((i) => `u${i}`);
    const few = planChecks(unfinished, ["s1", "s2"], 100, 0);
    expect(few).toHaveLength(100);
    expect(few.slice(0, 2)).toEqual([{ kind: "stopped", run: "s1" }, { kind: "stopped", run: "s2" }]);
    expect(few.filter((c) => c.kind === "unfinished")).toHaveLength(98);

    const many = planChecks(unfinished, range(300).map((i) => `s${i}`), 100, 0);
    expect(many.filter((c) => c.kind === "stopped")).toHaveLength(50);
    expect(many.filter((c) => c.kind === "unfinished")).toHaveLength(50);

    expect(planChecks(["u1"], [], 100, 3)).toEqual([{ kind: "unfinished", run: "u1" }]);
    expect(planChecks([], [], SWEEP_LIMITS.maxRunsPerQueue, 3)).toEqual([]);
  });
});

describe("Slots", () => {
  it("runs at most `size` at once, and all of them", async () => {
    const slots = new Slots(6);
    let running = 0;
    let most = 0;
    await Promise.all(range(50).map(() => slots.use(async () => {
      running++;
      most = Math.max(most, running);
      await tick();
      running--;
    })));
    expect(most).toBe(6);
  });

  it("frees the slot when the work throws", async () => {
    const slots = new Slots(1);
    await expect(slots.use(async () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(await slots.use(async () => "next")).toBe("next");
  });
});

describe("forEachBounded", () => {
  it("works through every item, `concurrency` at a time", async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    const taken = await forEachBounded(range(20), 6, async (i) => {
      running++;
      most = Math.max(most, running);
      await tick();
      running--;
      done.push(i);
      return true;
    });
    expect(taken).toBe(20);
    expect(most).toBe(6);
    expect(done.sort((a, b) => a - b)).toEqual(range(20));
  });

  it("starts nothing more once an item says stop", async () => {
    const started: number[] = [];
    await forEachBounded(range(100), 3, async (i) => {
      started.push(i);
      await tick();
      return i < 4;
    });
    // Items 0-2 run at once; 3 and 4 start as they finish; 4 says stop; 5 and 6 were already under way.
    expect(started.length).toBeLessThanOrEqual(7);
    expect(started).not.toContain(10);
  });
});

describe("OutageBreaker", () => {
  it("probes once after `threshold` unanswered checks in a row, and trips when the probe fails too", async () => {
    let probes = 0;
    const breaker = new OutageBreaker(3, async () => {
      probes++;
      return false;
    });
    breaker.record(false);
    breaker.record(false);
    expect(await breaker.mayProceed()).toBe(true);
    breaker.record(false);
    // Checks about to start wait for the probe, then stop.
    expect(await breaker.mayProceed()).toBe(false);
    expect(breaker.tripped).toBe(true);
    breaker.record(false);
    breaker.record(false);
    breaker.record(false);
    expect(probes).toBe(1);
  });

  it("goes on when the probe answers (one run's own trouble), counting again from zero", async () => {
    let probes = 0;
    const breaker = new OutageBreaker(3, async () => {
      probes++;
      return true;
    });
    for (let i = 0; i < 3; i++) breaker.record(false);
    expect(await breaker.mayProceed()).toBe(true);
    breaker.record(false);
    breaker.record(false);
    expect(probes).toBe(1);
    breaker.record(true);
    breaker.record(false);
    breaker.record(false);
    expect(probes).toBe(1);
    breaker.record(false);
    expect(await breaker.mayProceed()).toBe(true);
    expect(probes).toBe(2);
  });

  it("takes a probe that throws for LangGraph down", async () => {
    const breaker = new OutageBreaker(1, async () => {
      throw new Error("no");
    });
    breaker.record(false);
    expect(await breaker.mayProceed()).toBe(false);
  });

  it("an answer in between resets the count", async () => {
    let probes = 0;
    const breaker = new OutageBreaker(3, async () => (probes++, false));
    for (const answered of [false, false, true, false, false, true, false]) breaker.record(answered);
    expect(await breaker.mayProceed()).toBe(true);
    expect(probes).toBe(0);
  });
});
