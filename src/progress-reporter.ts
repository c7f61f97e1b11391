/**
 * Forwards a run's progress to the coordinator, throttled to one report a second plus one per
 * step change, and heartbeats in between so the attempt's lease stays alive. A refused report
 * (cancelled, stale attempt) aborts the attempt with the refusal as its StopReason.
 */
import { errorMessage, type StopReason } from "./langgraph";
import { log } from "./log";
import { jobIsOver, type JobMessage, type ProgressReport, type ReportRefusal, type Result } from "./coordinator/protocol";
import type { QueueCoordinator } from "./queue-do";
import { withRetries } from "./rpc";

/** Progress is forwarded at most this often, plus at every step change. */
export const PROGRESS_INTERVAL_MS = 1000;

export class ProgressReporter {
  private pending: ProgressReport = {};
  private lastStep: string | undefined;
  private lastSentMs = 0;
  private sending: Promise<void> = Promise.resolve();
  private trailing: ReturnType<typeof setTimeout> | undefined;
  private readonly heartbeat: ReturnType<typeof setInterval>;

  constructor(
    private readonly coordinator: Pick<DurableObjectStub<QueueCoordinator>, "report">,
    private readonly attempt: JobMessage,
    private readonly stop: AbortController,
    heartbeatMs: number,
    onHeartbeat: () => void = () => {},
  ) {
    this.heartbeat = setInterval(() => {
      onHeartbeat();
      this.send();
    }, heartbeatMs);
  }

  update(update: ProgressReport): void {
    this.pending = { ...this.pending, ...update };
    const stepChanged = update.currentStep !== undefined && update.currentStep !== this.lastStep;
    const sinceLastMs = Date.now() - this.lastSentMs;
    const idsChanged = update.runId !== undefined || update.threadId !== undefined || update.rejoined;
    if (stepChanged || idsChanged || sinceLastMs >= PROGRESS_INTERVAL_MS) this.send();
    else this.trailing ??= setTimeout(() => this.send(), PROGRESS_INTERVAL_MS - sinceLastMs);
  }

  /** Sends what is pending and stops the heartbeat. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    if (this.trailing) clearTimeout(this.trailing);
    if (Object.keys(this.pending).length > 0 && !this.stop.signal.aborted) this.send();
    await this.sending;
  }

  private send(): void {
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = undefined;
    const update = this.pending;
    this.pending = {};
    this.lastSentMs = Date.now();
    if (update.currentStep !== undefined) this.lastStep = update.currentStep;
    // Reports go out one at a time, in order, so a late one never overwrites a newer one.
    this.sending = this.sending.then(async () => {
      if (this.stop.signal.aborted) return;
      try {
        // Tried again before it is given up: a lease that lapses for want of reports stalls the job.
        const answer = await withRetries((): Promise<Result<null, ReportRefusal>> => this.coordinator.report(this.attempt.jobId, this.attempt.attempt, update));
        if (!answer.ok) this.stop.abort({ code: answer.code, jobOver: jobIsOver(answer.code) } satisfies StopReason);
      } catch (error) {
        // A missed heartbeat is survivable: the lease outlasts a few of them. What the run's
        // identity became (a new run, a copy of the thread) must not be lost: the next report carries it.
        const { runId, threadId, rejoined } = update;
        this.pending = { ...(runId !== undefined && { runId }), ...(threadId !== undefined && { threadId }), ...(rejoined && { rejoined }), ...this.pending };
        log({ event: "report_failed", ...this.attempt, error: errorMessage(error) }, "warn");
      }
    });
  }
}
