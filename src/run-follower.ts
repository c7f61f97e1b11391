/**
 * RunFollower: one Durable Object per job (named by its LangGraph thread id) that follows the
 * job's run for as long as it lasts, so that no Queue consumer waits out a run and a job never
 * waits behind another job's run.
 *
 * A consumer starts the run, hands it here (`follow`) and returns. The follow runs in the
 * object's alarm: alarms are durable and retried, so the follow survives the object's eviction
 * or a crash. While it follows, every heartbeat pushes the alarm a little ahead (a watchdog):
 * if this object dies mid-run, the alarm fires again and the run is rejoined, before the
 * attempt's lease expires. An alarm invocation lets go after RUN_BUDGET_SECONDS (Cloudflare
 * allows one 15 minutes) and the next one rejoins the run. It never writes job state: it
 * reports to the coordinator, which hears only the current attempt.
 */
import { DurableObject } from "cloudflare:workers";
import { runBudgetMs, type AppEnv } from "./config";
import type { JobType, JsonObject } from "./jobs";
import { errorMessage, langGraphClient, type RunOutcome, type StopReason } from "./langgraph";
import { log } from "./log";
import { ProgressReporter } from "./progress-reporter";
import { coordinatorFor, HEARTBEAT_MS, LEASE_MS, type ReportRefusal, type Result } from "./queue-do";

/** Everything needed to follow one attempt's run, without asking the coordinator again. */
export interface FollowTask {
  queueName: string;
  jobId: string;
  attempt: number;
  threadId: string;
  type: JobType;
  payloadJson: string;
  firstRun: boolean;
  /** The LangGraph run; null for the workflows flavour, whose follow makes the call itself. */
  runId: string | null;
}

/** How a follow ended: the outcome is recorded, the attempt was stopped, or the budget ran out. */
export type FollowEnd = "recorded" | "stopped" | "detached";

export interface FollowOptions {
  /** Aborting it (with a StopReason) stops the follow. */
  signal?: AbortSignal;
  /** This attempt's run was followed before (an earlier invocation's budget ran out, or it died). */
  rejoining?: boolean;
  heartbeatMs?: number;
  onHeartbeat?: () => void;
}

/**
 * The watchdog alarm, pushed ahead at every heartbeat: it fires only when this object stopped
 * following (died), soon enough that the rejoin renews the attempt's lease before it expires.
 */
const WATCHDOG_MS = HEARTBEAT_MS + 5_000;
const TASK_KEY = "task";

type StoredTask = FollowTask & { follows: number };

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

  /** The job was cancelled: stop following at once (and stop its run) rather than at the next report. */
  async stop(attempt: number, reason: StopReason): Promise<void> {
    if (this.following?.attempt === attempt) this.following.stop.abort(reason);
  }

  override async alarm(): Promise<void> {
    if (this.following) return; // the watchdog of the follow this instance is running
    // A newer attempt may take over while one is followed: follow whatever is current.
    for (let task = this.storedTask(); task; task = this.storedTask()) {
      const follows = task.follows + 1;
      this.ctx.storage.kv.put(TASK_KEY, { ...task, follows } satisfies StoredTask);
      const stop = new AbortController();
      this.following = { attempt: task.attempt, stop };
      let end: FollowEnd;
      try {
        this.armWatchdog();
        end = await followRun(task, this.env, { signal: stop.signal, rejoining: follows > 1, onHeartbeat: () => this.armWatchdog() });
      } finally {
        this.following = undefined;
      }
      if (this.storedTask()?.attempt !== task.attempt) continue;
      if (end === "detached") return this.ctx.storage.setAlarm(Date.now());
      // Done with this attempt. Both synchronously, so a follow() arriving now is not undone.
      this.ctx.storage.kv.delete(TASK_KEY);
      void this.ctx.storage.deleteAlarm();
      return;
    }
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
  const job = { ...task, payload: JSON.parse(task.payloadJson) as JsonObject };
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(options.signal!.reason), { once: true });
  const reporter = new ProgressReporter(coordinator, task, stop, options.heartbeatMs ?? HEARTBEAT_MS, options.onHeartbeat);
  // The first report tells the coordinator the run id (or that the run was rejoined) at once.
  if (options.rejoining) reporter.update({ rejoined: true });
  else if (task.runId) reporter.update({ runId: task.runId });

  const startedMs = Date.now();
  let outcome: RunOutcome;
  try {
    const deadlineMs = startedMs + runBudgetMs(env);
    outcome = await langGraphClient(env).follow(job, task.runId, { signal: stop.signal, deadlineMs, onProgress: (update) => reporter.update(update) });
  } catch (error) {
    outcome = { status: "failed", error: `unexpected error: ${errorMessage(error)}`, retryable: true };
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
  // Repeating a report is safe: the coordinator hears the current attempt only, once.
  const recorded = await withRetries((): Promise<Result<unknown, ReportRefusal>> =>
    outcome.status === "completed"
      ? coordinator.complete(task.jobId, task.attempt, outcome.result)
      : coordinator.fail(task.jobId, task.attempt, { error: outcome.error, retryable: outcome.retryable }),
  );
  log({ event: `run_${outcome.status}`, ...fields, recorded: recorded.ok || recorded.code });
  return "recorded";
}

/** A call worth a few tries: losing its answer would cost a lease expiry and a retry. */
export async function withRetries<T>(call: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}
