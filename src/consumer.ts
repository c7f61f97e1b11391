/**
 * The Cloudflare Queues consumers. A job message names {queueName, jobId, attempt}; the consumer
 * claims that attempt from the coordinator, runs it on LangGraph, renews the lease while it
 * works, and reports the outcome. It never writes job state itself.
 */
import { runBudgetMs, type AppEnv } from "./config";
import { errorMessage, langGraphClient, type RunOutcome, type StopReason } from "./langgraph";
import type { JsonObject } from "./jobs";
import { log } from "./log";
import {
  HEARTBEAT_MS, type ClaimedJob, type JobMessage, type ProgressReport, type QueueCoordinator, type ReportRefusal, type Result,
} from "./queue-do";

/** Progress is forwarded at most this often, plus at every step change. */
export const PROGRESS_INTERVAL_MS = 1000;

export const isDeadLetterQueue = (queue: string): boolean => queue.endsWith("-dlq");

export async function consumeJobs(batch: MessageBatch<JobMessage>, env: AppEnv): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await runJobMessage(message.body, env);
        message.ack();
      } catch (error) {
        // Only reached when the coordinator itself could not be reached: let the Queue redeliver.
        log({ event: "consumer_error", ...message.body, deliveries: message.attempts, error: errorMessage(error) }, "error");
        message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
      }
    }),
  );
}

/** Deliveries the Queue gave up on after max_retries: the job fails with a clear error. */
export async function consumeDeadLetters(batch: MessageBatch<JobMessage>, env: AppEnv): Promise<void> {
  for (const message of batch.messages) {
    const { queueName, jobId, attempt } = message.body;
    const failed = await coordinatorFor(env, queueName).deadLetter(jobId, attempt, message.attempts);
    log({ event: "dead_letter", queue: queueName, jobId, attempt, failedJob: failed }, "error");
    message.ack();
  }
}

export interface RunOptions {
  heartbeatMs?: number;
}

export async function runJobMessage(message: JobMessage, env: AppEnv, options: RunOptions = {}): Promise<void> {
  const coordinator = coordinatorFor(env, message.queueName);
  const claim: Result<ClaimedJob, ReportRefusal> = await coordinator.claim(message.jobId, message.attempt);
  if (!claim.ok) {
    log({ event: "delivery_ignored", queue: message.queueName, jobId: message.jobId, attempt: message.attempt, reason: claim.code });
    return;
  }
  const job = { ...claim.data, payload: JSON.parse(claim.data.payloadJson) as JsonObject };
  // Past the deadline the run goes on in LangGraph and a fresh delivery rejoins it.
  const deadlineMs = Date.now() + runBudgetMs(env);
  const stop = new AbortController();
  const reporter = new ProgressReporter(coordinator, message, stop, options.heartbeatMs ?? HEARTBEAT_MS);
  const startedMs = Date.now();
  let outcome: RunOutcome;
  try {
    outcome = await langGraphClient(env).run(job, { signal: stop.signal, deadlineMs, onProgress: (update) => reporter.update(update) });
  } catch (error) {
    outcome = { status: "failed", error: `unexpected error: ${errorMessage(error)}`, retryable: true };
  } finally {
    await reporter.close();
  }
  const fields = { queue: message.queueName, jobId: message.jobId, attempt: message.attempt, durationMs: Date.now() - startedMs };
  if (stop.signal.aborted) {
    // Cancelled, or the lease moved on to another attempt: whatever happened is not ours to record.
    log({ event: "run_abandoned", ...fields, reason: (stop.signal.reason as StopReason).code });
    return;
  }
  // The outcome is worth a few tries: losing it would cost a lease expiry and a retry. Repeating
  // a report is safe, as the coordinator hears only the current attempt, once.
  const recorded = await withRetries((): Promise<Result<unknown, ReportRefusal>> =>
    outcome.status === "completed"
      ? coordinator.complete(message.jobId, message.attempt, outcome.result)
      : outcome.status === "detached"
        ? coordinator.handOff(message.jobId, message.attempt)
        : coordinator.fail(message.jobId, message.attempt, { error: outcome.error, retryable: outcome.retryable }),
  );
  log({ event: `run_${outcome.status}`, ...fields, recorded: recorded.ok || recorded.code });
}

async function withRetries<T>(call: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/** A newer attempt may be following the same LangGraph run: only a job that is over stops it. */
const jobIsOver = (refusal: ReportRefusal): boolean => refusal !== "STALE_ATTEMPT" && refusal !== "DUPLICATE_DELIVERY";

const coordinatorFor = (env: AppEnv, queueName: string): DurableObjectStub<QueueCoordinator> =>
  env.QUEUE_COORDINATOR.getByName(queueName) as DurableObjectStub<QueueCoordinator>;

/**
 * Forwards progress to the coordinator, throttled, and heartbeats in between so the lease stays
 * alive. A refused report (cancelled, stale attempt) aborts the run.
 */
class ProgressReporter {
  private pending: ProgressReport = {};
  private lastStep: string | undefined;
  private lastSentMs = 0;
  private sending: Promise<void> = Promise.resolve();
  private trailing: ReturnType<typeof setTimeout> | undefined;
  private readonly heartbeat: ReturnType<typeof setInterval>;

  constructor(
    private readonly coordinator: DurableObjectStub<QueueCoordinator>,
    private readonly message: JobMessage,
    private readonly stop: AbortController,
    heartbeatMs: number,
  ) {
    this.heartbeat = setInterval(() => this.send(), heartbeatMs);
  }

  update(update: ProgressReport): void {
    this.pending = { ...this.pending, ...update };
    const stepChanged = update.currentStep !== undefined && update.currentStep !== this.lastStep;
    const sinceLastMs = Date.now() - this.lastSentMs;
    if (stepChanged || update.runId !== undefined || sinceLastMs >= PROGRESS_INTERVAL_MS) this.send();
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
        const answer = await this.coordinator.report(this.message.jobId, this.message.attempt, update);
        if (!answer.ok) this.stop.abort({ code: answer.code, jobOver: jobIsOver(answer.code) } satisfies StopReason);
      } catch (error) {
        // A missed heartbeat is survivable: the lease outlasts a few of them.
        log({ event: "report_failed", ...this.message, error: errorMessage(error) }, "warn");
      }
    });
  }
}
