/**
 * The Cloudflare Queues consumers. A job message names {queueName, jobId, attempt}; the consumer
 * claims the attempts of a delivery from their coordinator (one request per queue), starts (or
 * resumes) each LangGraph run, hands it to the job's RunFollower and returns: an invocation lasts
 * a few calls, never a run, so the Queue delivers the next jobs at once. It never writes job
 * state itself.
 */
import type { AppEnv } from "./config";
import { errorMessage, langGraphClient, langGraphJobOf, type StartOutcome } from "./langgraph";
import { log } from "./log";
import { jobIsOver, type ClaimedJob, type FollowTask, type JobMessage, type ReportRefusal, type Result } from "./coordinator/protocol";
import { coordinatorFor, followerFor, withRetries } from "./rpc";

export const isDeadLetterQueue = (queue: string): boolean => queue.endsWith("-dlq");

export async function consumeJobs(batch: MessageBatch<JobMessage>, env: AppEnv): Promise<void> {
  const byQueue = Map.groupBy(batch.messages, (message) => message.body.queueName);
  await Promise.all(
    [...byQueue].map(async ([queueName, messages]) => {
      // One request claims the whole delivery: a job costs the coordinator one request fewer.
      let claims: Result<ClaimedJob, ReportRefusal>[];
      try {
        claims = await coordinatorFor(env, queueName).claimBatch(messages.map(({ body }) => ({ jobId: body.jobId, attempt: body.attempt })));
      } catch (error) {
        for (const message of messages) redeliverLater(message, error);
        return;
      }
      await Promise.all(
        messages.map(async (message, i) => {
          try {
            await startClaimed(message.body, claims[i]!, env);
            message.ack();
          } catch (error) {
            redeliverLater(message, error);
          }
        }),
      );
    }),
  );
}

/** Only reached when the coordinator or the follower could not be reached: let the Queue redeliver. */
function redeliverLater(message: Message<JobMessage>, error: unknown): void {
  log({ event: "consumer_error", ...message.body, deliveries: message.attempts, error: errorMessage(error) }, "error");
  message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
}

/**
 * Deliveries the Queue gave up on after max_retries. The coordinator decides what that cost the
 * job: nothing if no delivery reached it (a stall), a failed attempt if the consumer kept failing
 * on claimed deliveries. A dead letter the coordinator cannot take now is delivered again.
 */
export async function consumeDeadLetters(batch: MessageBatch<JobMessage>, env: AppEnv): Promise<void> {
  for (const message of batch.messages) {
    const { queueName, jobId, attempt } = message.body;
    try {
      const state = await coordinatorFor(env, queueName).deadLetter(jobId, attempt);
      log({ event: "dead_letter", queue: queueName, jobId, attempt, deadLetterDeliveries: message.attempts, leftIn: state ?? "not current" }, "warn");
      message.ack();
    } catch (error) {
      redeliverLater(message, error);
    }
  }
}

/** Claims the attempt, starts its run and hands it to the job's follower. */
export async function runJobMessage(message: JobMessage, env: AppEnv): Promise<void> {
  await startClaimed(message, await coordinatorFor(env, message.queueName).claim(message.jobId, message.attempt), env);
}

/** Starts the run of an attempt this consumer claimed (or says why not) and hands it to the job's follower. */
async function startClaimed(message: JobMessage, claim: Result<ClaimedJob, ReportRefusal>, env: AppEnv): Promise<void> {
  const coordinator = coordinatorFor(env, message.queueName);
  if (!claim.ok) {
    log({ event: "delivery_ignored", queue: message.queueName, jobId: message.jobId, attempt: message.attempt, reason: claim.code });
    return;
  }
  const task = claim.data;
  if (task.redelivery) log({ event: "hand_over_resumed", queue: message.queueName, jobId: message.jobId, attempt: message.attempt });
  const job = langGraphJobOf(task);
  const startedMs = Date.now();
  const client = langGraphClient(env);
  let started: StartOutcome;
  try {
    started = await client.start(job);
  } catch (error) {
    started = { status: "failed", error: `unexpected error: ${errorMessage(error)}`, retryable: true, ours: true };
  }
  const fields = { queue: message.queueName, jobId: message.jobId, attempt: message.attempt, durationMs: Date.now() - startedMs };
  const report = (call: () => Promise<Result<unknown, ReportRefusal>>) => withRetries(call);
  switch (started.status) {
    case "started": {
      const { runId, rejoined = false } = started;
      const { threadId } = task;
      if (runId) {
        // Recorded before the hand-over, so that the sweep knows the run should the hand-over fail.
        const known = await report(() => coordinator.report(message.jobId, message.attempt, { runId, ...(rejoined && { rejoined }) }));
        if (!known.ok) {
          if (jobIsOver(known.code)) await client.cancelRun(threadId, runId);
          log({ event: "run_abandoned", ...fields, runId, reason: known.code });
          return;
        }
      }
      // Only a run that was there before an outage may be one LangGraph lost; a run started since is not.
      const { retryCount: _, redelivery: __, followerName, afterOutage, ...followed } = task;
      // Idempotent: a follower that already follows this attempt ignores it.
      await withRetries(() => followerFor(env, followerName).follow({ ...followed, afterOutage: afterOutage && rejoined, runId } satisfies FollowTask));
      log({ event: "run_handed_to_follower", ...fields, runId });
      return;
    }
    case "completed": {
      const recorded = await report(() => coordinator.complete(message.jobId, message.attempt, started.result));
      log({ event: "run_completed", ...fields, recorded: recorded.ok || recorded.code });
      return;
    }
    case "interrupted": {
      // The run stopped at an interrupt while nobody listened (a later attempt found it so).
      const recorded = await report(() => coordinator.interrupted(message.jobId, message.attempt, started.interrupts));
      log({ event: "run_interrupted", ...fields, recorded: recorded.ok || recorded.code });
      return;
    }
    case "failed": {
      const { error, retryable, unreachable, ours, threadBusy } = started;
      // The first delivery of this attempt may be handing its run over right now (the Queue can
      // deliver a message twice at once): its failure to start another is not the attempt's.
      // An outage or an error that is final is the attempt's all the same, and is reported.
      if (task.redelivery && retryable && !unreachable) throw new Error(`the redelivered attempt could not find or start its run: ${error}`);
      const recorded = await report(() => coordinator.fail(message.jobId, message.attempt, { error, retryable, unreachable, ours, threadBusy }));
      log({ event: "run_failed", ...fields, recorded: recorded.ok || recorded.code });
      return;
    }
  }
}
