/**
 * Watches over a followed run's stream, beside it: RunEndWatch finds the end of a run whose
 * stream went quiet after a node's update, LostRunWatch finds a run LangGraph lost.
 */
import type { Run } from "@langchain/langgraph-sdk";

/** The run statuses of a run still going. */
export const ACTIVE = new Set(["pending", "running"]);
/**
 * After a node finishes, a quiet stream may mean the run has ended: its status is checked after
 * this long, then after twice as long, up to END_CHECK_LAST_MS. The LangGraph JS dev server
 * ends a joined stream only after 500 ms without events, so this finds the end sooner and
 * frees the slot for the next job; a server that ends its streams at once makes it moot.
 */
const END_CHECK_FIRST_MS = 10;
const END_CHECK_LAST_MS = 160;

/** Aborts its signal when, the stream having gone quiet after a node finished, the run has ended. */
export class RunEndWatch {
  private readonly ended = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every event and by stop(), so a check under way when one comes schedules nothing more. */
  private quietSince = 0;
  readonly signal = this.ended.signal;
  /** The run as the check that found it ended saw it. */
  endedRun: Run | undefined;

  constructor(private readonly getRun: () => Promise<Run>) {}

  /** Called for every stream event: any event means the run still goes; a node's update may be its last. */
  after(event: string): void {
    this.stop();
    if (event === "updates") this.check(END_CHECK_FIRST_MS, this.quietSince);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.quietSince++;
  }

  private check(delayMs: number, quiet: number): void {
    this.timer = setTimeout(async () => {
      const run = await this.getRun().catch(() => undefined);
      if (quiet !== this.quietSince) return;
      if (run && !ACTIVE.has(run.status)) {
        this.endedRun = run;
        this.ended.abort();
      } else if (delayMs * 2 <= END_CHECK_LAST_MS) {
        this.check(delayMs * 2, quiet);
      }
    }, delayMs);
  }
}

/** What a LostRunWatch learns from LangGraph at each look: the run's status and its thread's newest checkpoint. */
export interface RunLook {
  status: Run["status"];
  checkpointId: string | null;
}

/**
 * Proves a run lost: after LangGraph was unreachable, a run it still calls pending or running
 * may be one it lost (the JS dev server, killed mid-run, keeps such a run "running" for ever and
 * starts no other run on its thread). The run is taken for lost only when, LangGraph answering,
 * it shows no sign of life (no stream event, no new checkpoint on its thread, the same status)
 * for `quietMs`. The clock starts again at every sign of life and at every look LangGraph does
 * not answer. `lost` then aborts `signal`.
 */
export class LostRunWatch {
  private readonly found = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private quietSinceMs = Date.now();
  private checkpointId: string | null | undefined;
  private stopped = false;
  readonly signal = this.found.signal;
  lost = false;

  constructor(
    private readonly quietMs: number,
    private readonly look: () => Promise<RunLook>,
    private readonly lookEveryMs = Math.max(250, Math.min(5000, Math.floor(quietMs / 4))),
  ) {
    this.schedule(0);
  }

  /** A stream event of the run: it is alive (the stream's own `metadata` says nothing of the run). */
  event(event: string): void {
    if (event !== "metadata") this.quietSinceMs = Date.now();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** The first look at once, for the checkpoint to compare with; then every lookEveryMs. */
  private schedule(delayMs = this.lookEveryMs): void {
    if (!this.stopped) this.timer = setTimeout(() => void this.check(), delayMs);
  }

  private async check(): Promise<void> {
    let seen: RunLook;
    try {
      seen = await this.look();
    } catch {
      // LangGraph does not answer: nothing is proven while it does not; the clock starts again.
      this.quietSinceMs = Date.now();
      return this.schedule();
    }
    if (this.stopped) return;
    // Ended: the follower's stream ends with it (or its next status check finds the end).
    if (!ACTIVE.has(seen.status)) return;
    if (seen.checkpointId !== this.checkpointId) {
      // The first look sets the checkpoint to compare with; a new one later is a node that finished.
      if (this.checkpointId !== undefined) this.quietSinceMs = Date.now();
      this.checkpointId = seen.checkpointId;
    }
    if (Date.now() - this.quietSinceMs >= this.quietMs) {
      this.lost = true;
      this.found.abort();
      return;
    }
    this.schedule();
  }
}
