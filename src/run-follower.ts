/**
 * RunFollower: one Durable Object per job (named `<queue>:<seq>`, protocol.ts followerName) that follows the
 * job's run for as long as it lasts, so that no Queue consumer waits out a run and a job never
 * waits behind another job's run.
 *
 * A consumer starts the run, hands it here (`follow`) and returns. The follow runs in the
 * object's alarm: alarms are durable and retried, so the follow survives the object's eviction
 * or a crash. While it follows, every heartbeat pushes the alarm a little ahead (a watchdog):
 * if this object dies mid-run, the alarm fires again and the run is rejoined, before the
 * attempt's lease expires. An alarm invocation lets go after RUN_BUDGET_SECONDS (Cloudflare
 * allows one 15 minutes) and the next one rejoins the run. The outcome is stored before it is
 * reported, so an alarm retried because the coordinator could not be reached reports it again
 * rather than following (or, for the workflows flavour, running) the job again. It never writes
 * job state: it reports to the coordinator, which hears only the current attempt.
 */
import { DurableObject } from "cloudflare:workers";
import { runBudgetMs, type AppEnv } from "./config";
import { errorMessage, langGraphClient, langGraphJobOf, type RunOutcome, type StopReason } from "./langgraph";
import { log } from "./log";
import { ProgressReporter } from "./progress-reporter";
import { HEARTBEAT_MS, type FollowTask, type ReportRefusal, type Result } from "./coordinator/protocol";
import { coordinatorFor, withRetries } from "./rpc";

/** How a follow ended: the outcome is recorded, the attempt was stopped, or the budget ran out. */
export type FollowEnd = "recorded" | "stopped" | "detached";

export interface FollowOptions {
  /** Aborting it (with a StopReason) stops the follow. */
  signal?: AbortSignal;
  /** This attempt's run was followed before (an earlier invocation's budget ran out, or it died). */
  rejoining?: boolean;
  heartbeatMs?: number;
  onHeartbeat?: () => void;
  /** Called with the outcome before it is reported, so that it can be kept. */
  onOutcome?: (outcome: Exclude<RunOutcome, { status: "detached" }>) => void;
  /** LangGraph lost the run and the job moved to a new run in a copy of its thread: keep it, so that a rejoin follows that one. */
  onRunMoved?: (threadId: string, runId: string | null) => void;
}

/**
 * The watchdog alarm, pushed ahead at every heartbeat: it fires only when this object stopped
 * following (died), soon enough that the rejoin renews the attempt's lease before it expires.
 */
const WATCHDOG_MS = HEARTBEAT_MS + 5_000;
const TASK_KEY = "task";
const STOP_KEY = "stop";
/** How long a stop waits for a hand-over that may never come (the consumer gives up within seconds). */
const STOP_KEPT_MS = 10 * 60_000;

/** A stop that came before its attempt's follow began. */
type StoredStop = { attempt: number; reason: StopReason };

/** What the follower keeps: the task, how many alarm invocations took it up, its outcome once known. */
type StoredTask = FollowTask & { follows: number; outcome?: Exclude<RunOutcome, { status: "detached" }> };

export class RunFollower extends DurableObject<AppEnv> {
  /** The follow under way in this instance, if any. */
  private following: { attempt: number; stop: AbortController } | undefined;

  /** Takes over following `task` and starts at once. A newer attempt replaces an older one. */
  async follow(task: FollowTask): Promise<void> {
    const stored = this.storedTask();
    if (stored && stored.attempt >= task.attempt) return; // a repeated or late call
    this.ctx.storage.kv.put(TASK_KEY, { ...task, follows: 0 } satisfies StoredTask);
    this.following?.stop.abort({ code: "STALE_ATTEMPT", jobOver: false } satisfies StopReason);
    await this.ctx.storage.setAlarm(Date.now());
  }

  /**
   * The job was cancelled: stop following at once (and stop its run) rather than at the next
   * report. A stop that comes before the follow has begun (its alarm not yet started, or the
   * hand-over not yet here) is kept, so that the follow never begins.
   */
  async stop(attempt: number, reason: StopReason): Promise<void> {
    if (this.following?.attempt === attempt) return this.following.stop.abort(reason);
    const stored = this.storedTask();
    if (stored && stored.attempt > attempt) return;
    this.ctx.storage.kv.put(STOP_KEY, { attempt, reason } satisfies StoredStop);
    // Should no hand-over ever come (the consumer gave up on the attempt), an alarm clears the stop.
    if (!stored) await this.ctx.storage.setAlarm(Date.now() + STOP_KEPT_MS);
  }

  // Alarms of one object never overlap (the runtime waits for one to end before the next), so
  // the watchdog cannot fire while a follow is under way here.
  override async alarm(): Promise<void> {
    const task = this.storedTask();
    if (!task) {
      this.ctx.storage.kv.delete(STOP_KEY);
      return;
    }
    const stopped = this.ctx.storage.kv.get<StoredStop>(STOP_KEY);
    if (stopped && stopped.attempt >= task.attempt) return this.abandon(task, stopped.reason);
    const follows = task.follows + 1;
    this.ctx.storage.kv.put(TASK_KEY, { ...task, follows } satisfies StoredTask);
    let end: FollowEnd;
    if (task.outcome) {
      end = await recordOutcome(task, this.env, task.outcome);
    } else if (follows > 1 && task.runId === null && this.env.LANGGRAPH_API_FLAVOR === "workflows") {
      // The workflows flavour's one blocking call died with this object: it cannot be rejoined.
      const outcome = { status: "failed", error: "the run follower died during /workflows/execute, which cannot be rejoined", retryable: true } as const;
      end = await recordOutcome(task, this.env, outcome);
    } else {
      const stop = new AbortController();
      this.following = { attempt: task.attempt, stop };
      let followed: StoredTask = { ...task, follows };
      try {
        this.armWatchdog();
        end = await followRun(task, this.env, {
          signal: stop.signal,
          rejoining: follows > 1,
          onHeartbeat: () => this.armWatchdog(),
          onOutcome: (outcome) => {
            if (this.storedTask()?.attempt === task.attempt) this.ctx.storage.kv.put(TASK_KEY, { ...followed, outcome } satisfies StoredTask);
          },
          // The new run is one LangGraph started after the outage: it is not watched for being lost.
          onRunMoved: (threadId, runId) => {
            followed = { ...followed, threadId, runId, afterOutage: false };
            if (this.storedTask()?.attempt === task.attempt) this.ctx.storage.kv.put(TASK_KEY, followed);
          },
        });
      } finally {
        this.following = undefined;
      }
    }
    // A newer attempt took over, or the budget ran out: the next invocation takes it up.
    if (this.storedTask()?.attempt !== task.attempt || end === "detached") return this.ctx.storage.setAlarm(Date.now());
    this.done();
  }

  /** A stop came before the follow began: the run is not followed, and stopped if the job is over. */
  private async abandon(task: StoredTask, reason: StopReason): Promise<void> {
    if (reason.jobOver && task.runId !== null) await langGraphClient(this.env).cancelRun(task.threadId, task.runId);
    log({ event: "run_abandoned", queue: task.queueName, jobId: task.jobId, attempt: task.attempt, reason: reason.code, beforeFollowing: true });
    this.done();
  }

  /** Done with this attempt. All synchronously, so a follow() arriving now is not undone. */
  private done(): void {
    this.ctx.storage.kv.delete(TASK_KEY);
    this.ctx.storage.kv.delete(STOP_KEY);
    void this.ctx.storage.deleteAlarm();
  }

  private storedTask(): StoredTask | undefined {
    return this.ctx.storage.kv.get<StoredTask>(TASK_KEY);
  }

  private armWatchdog(): void {
    void this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
  }
}

/**
 * Follows one attempt's run until it ends (and records its outcome with the coordinator), the
 * attempt is stopped, or RUN_BUDGET_SECONDS pass. Throws only when the outcome could not be
 * recorded; the alarm is then retried and the run rejoined.
 */
export async function followRun(task: FollowTask, env: AppEnv, options: FollowOptions = {}): Promise<FollowEnd> {
  const coordinator = coordinatorFor(env, task.queueName);
  const job = langGraphJobOf(task);
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(options.signal!.reason), { once: true });
  const reporter = new ProgressReporter(coordinator, task, stop, options.heartbeatMs ?? HEARTBEAT_MS, options.onHeartbeat);
  if (options.rejoining) reporter.update({ rejoined: true });

  const startedMs = Date.now();
  let outcome: RunOutcome;
  try {
    const deadlineMs = startedMs + runBudgetMs(env);
    outcome = await langGraphClient(env).follow(job, task.runId, {
      signal: stop.signal, deadlineMs, onProgress: (update) => reporter.update(update), onRunMoved: options.onRunMoved,
    });
  } catch (error) {
    outcome = { status: "failed", error: `unexpected error: ${errorMessage(error)}`, retryable: true, ours: true };
  } finally {
    await reporter.close();
  }
  const fields = { queue: task.queueName, jobId: task.jobId, attempt: task.attempt, durationMs: Date.now() - startedMs };
  if (stop.signal.aborted) {
    // Cancelled, or a newer attempt took over: whatever happened is not ours to record.
    log({ event: "run_abandoned", ...fields, reason: (stop.signal.reason as StopReason).code });
    return "stopped";
  }
  if (outcome.status === "detached") {
    log({ event: "run_detached", ...fields });
    return "detached";
  }
  options.onOutcome?.(outcome);
  return recordOutcome(task, env, outcome, fields);
}

/** Reports an attempt's outcome. Repeating it is safe: the coordinator hears the current attempt only, once. */
export async function recordOutcome(
  task: FollowTask,
  env: AppEnv,
  outcome: Exclude<RunOutcome, { status: "detached" }>,
  fields: Record<string, unknown> = { queue: task.queueName, jobId: task.jobId, attempt: task.attempt },
): Promise<"recorded"> {
  const coordinator = coordinatorFor(env, task.queueName);
  const recorded = await withRetries((): Promise<Result<unknown, ReportRefusal>> => {
    switch (outcome.status) {
      case "completed":
        return coordinator.complete(task.jobId, task.attempt, outcome.result);
      case "interrupted":
        return coordinator.interrupted(task.jobId, task.attempt, outcome.interrupts);
      case "failed": {
        const { error, retryable, unreachable, ours, threadBusy } = outcome;
        return coordinator.fail(task.jobId, task.attempt, { error, retryable, unreachable, ours, threadBusy });
      }
    }
  });
  log({ event: `run_${outcome.status}`, ...fields, recorded: recorded.ok || recorded.code });
  return "recorded";
}
