/**
 * The Cloudflare Queues consumers. A job message names {queueName, jobId, attempt}; the consumer
 * claims that attempt from the coordinator, starts (or resumes) its LangGraph run, hands the run
 * to the job's RunFollower and returns: an invocation lasts a few calls, never a run, so the
 * Queue delivers the next jobs at once. It never writes job state itself.
 */
import type { AppEnv } from "./config";
import { errorMessage, langGraphClient, type StartOutcome } from "./langgraph";
import type { JsonObject } from "./jobs";
import { log } from "./log";
import { coordinatorFor, jobIsOver, type JobMessage, type ReportRefusal, type Result } from "./queue-do";
import { withRetries, type FollowTask } from "./run-follower";

export const isDeadLetterQueue = (queue: string): boolean => queue.endsWith("-dlq");

export async function consumeJobs(batch: MessageBatch<JobMessage>, env: AppEnv): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await runJobMessage(message.body, env);
        message.ack();
      } catch (error) {
        // Only reached when the coordinator or the follower could not be reached: let the Queue redeliver.
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

/** Claims the attempt, starts its run and hands it to the job's follower. */
export async function runJobMessage(message: JobMessage, env: AppEnv): Promise<void> {
  const coordinator = coordinatorFor(env, message.queueName);
  const claim = await coordinator.claim(message.jobId, message.attempt);
  if (!claim.ok) {
    log({ event: "delivery_ignored", queue: message.queueName, jobId: message.jobId, attempt: message.attempt, reason: claim.code });
    return;
  }
  const task = claim.data;
  const job = { ...task, payload: JSON.parse(task.payloadJson) as JsonObject };
  const startedMs = Date.now();
  const client = langGraphClient(env);
  let started: StartOutcome;
  try {
    started = await client.start(job);
  } catch (error) {
    started = { status: "failed", error: `unexpected error: ${errorMessage(error)}`, retryable: true };
  }
  const fields = { queue: message.queueName, jobId: message.jobId, attempt: message.attempt, durationMs: Date.now() - startedMs };
  const report = (call: () => Promise<Result<unknown, ReportRefusal>>) => withRetries(call);
  switch (started.status) {
    case "started": {
      const { runId, threadId = task.threadId } = started;
      if (runId) {
        // Recorded before the hand-over, so that the sweep knows the run should the hand-over fail.
        const newThread = threadId !== task.threadId ? { threadId } : {};
        const known = await report(() => coordinator.report(message.jobId, message.attempt, { runId, ...newThread }));
        if (!known.ok) {
          if (jobIsOver(known.code)) await client.cancelRun(threadId, runId);
          log({ event: "run_abandoned", ...fields, runId, reason: known.code });
          return;
        }
      }
      const { retryCount: _, afterOutage: __, ...followed } = task;
      await withRetries(() => followerFor(env, threadId).follow({ ...followed, threadId, runId } satisfies FollowTask));
      log({ event: "run_handed_to_follower", ...fields, runId });
      return;
    }
    case "completed": {
      const recorded = await report(() => coordinator.complete(message.jobId, message.attempt, started.result));
      log({ event: "run_completed", ...fields, recorded: recorded.ok || recorded.code });
      return;
    }
    case "failed": {
      const { error, retryable, unreachable } = started;
      const recorded = await report(() => coordinator.fail(message.jobId, message.attempt, { error, retryable, unreachable }));
      log({ event: "run_failed", ...fields, recorded: recorded.ok || recorded.code });
      return;
    }
  }
}

export const followerFor = (env: AppEnv, threadId: string) => env.RUN_FOLLOWER.getByName(threadId);
