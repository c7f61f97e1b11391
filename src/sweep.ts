/**
 * The cron trigger's sweep, every minute: for each queue, the coordinator's own timers and
 * timeouts, then a look at LangGraph for runs nobody may be listening to. A run that succeeded
 * while its follower was gone is recorded; a cancelled or failed job's run that is still going
 * is stopped.
 *
 * Bounded (limits and reasons in sweep-plan.ts): at most 100 runs per queue per sweep, taking
 * turns over successive sweeps; at most 6 checks at once over all queues; no check starts after
 * 15 s and the sweep returns by 45 s; and once LangGraph is found unreachable (a check got no
 * answer, nor did a health probe), no further check is made (the next sweep tries again).
 */
import type { AppEnv } from "./config";
import { queueNames } from "./config";
import type { RunToCheck } from "./coordinator/protocol";
import { langGraphClient, type LangGraphClient, type RunCheck } from "./langgraph";
import { log } from "./log";
import { coordinatorFor } from "./rpc";
import { forEachBounded, OutageBreaker, planChecks, Slots, SWEEP_LIMITS, sweepTurn, type PlannedCheck, type SweepLimits } from "./sweep-plan";

/** What one sweep shares over its queues: the connection slots, the clock, what is known of LangGraph. */
export class SweepSession {
  readonly slots: Slots;
  readonly breaker: OutageBreaker;
  readonly turn: number;

  constructor(
    readonly langgraph: LangGraphClient,
    readonly limits: SweepLimits = SWEEP_LIMITS,
    scheduledTimeMs = Date.now(),
    readonly startedAtMs = Date.now(),
  ) {
    this.slots = new Slots(limits.concurrency);
    this.breaker = new OutageBreaker(limits.failuresBeforeProbe, async () => (await langgraph.health()).ok);
    this.turn = sweepTurn(scheduledTimeMs);
  }

  /** Whether another check may start: within the start budget, and LangGraph not found down. */
  async mayStart(): Promise<boolean> {
    if (this.overStartBudget()) return false;
    return (await this.breaker.mayProceed()) && !this.overStartBudget();
  }

  overStartBudget(): boolean {
    return Date.now() - this.startedAtMs >= this.limits.startBudgetMs;
  }
}

export interface QueueSweepReport {
  queue: string;
  timedOut: number;
  /** Runs the coordinator listed: running or retrying jobs', and recently stopped jobs'. */
  runsListed: number;
  /** Runs this sweep asked LangGraph about (at most limits.maxRunsPerQueue). */
  runsChecked: number;
  /** Checks LangGraph gave no answer to. */
  unanswered: number;
  recovered: number;
  cancelled: number;
  /** Why checks planned for this sweep were not made, if some were not. */
  stoppedEarly: "langgraph_unreachable" | "start_budget" | "hard_budget" | null;
  ms: number;
}

/** The cron handler's sweep of every configured queue, sharing one budget. */
export async function sweepAll(env: AppEnv, scheduledTimeMs = Date.now(), limits: SweepLimits = SWEEP_LIMITS): Promise<QueueSweepReport[]> {
  const session = new SweepSession(langGraphClient(env), limits, scheduledTimeMs);
  return Promise.all(queueNames(env).map((queueName) => sweepQueue(env, queueName, session)));
}

export async function sweepQueue(env: AppEnv, queueName: string, session = new SweepSession(langGraphClient(env))): Promise<QueueSweepReport> {
  const coordinator = coordinatorFor(env, queueName);
  const { timedOut } = await coordinator.sweep();
  const { langgraph, limits } = session;
  const report: QueueSweepReport = {
    queue: queueName, timedOut, runsListed: 0, runsChecked: 0, unanswered: 0, recovered: 0, cancelled: 0, stoppedEarly: null, ms: 0,
  };
  // The seed's workflows contract has no runs to look up.
  if (langgraph.flavor === "platform") {
    const { unfinished, stopped } = await coordinator.runsToCheck();
    report.runsListed = unfinished.length + stopped.length;
    const planned = planChecks(unfinished, stopped, limits.maxRunsPerQueue, session.turn);

    const checkOne = async ({ kind, run }: PlannedCheck<RunToCheck>): Promise<boolean> =>
      session.slots.use(async () => {
        if (!(await session.mayStart())) return false;
        report.runsChecked++;
        let check: RunCheck;
        try {
          check = await langgraph.checkRun(run.threadId, run.runId);
        } catch (error) {
          check = { status: "unknown", error: String(error) };
        }
        session.breaker.record(check.status !== "unknown");
        if (check.status === "unknown") report.unanswered++;
        try {
          if (kind === "unfinished" && check.status === "completed") {
            if (await coordinator.recordFinishedRun(run.jobId, run.attempt, check.result, check.runMs)) report.recovered++;
          } else if (kind === "stopped" && check.status === "active") {
            await langgraph.cancelRun(run.threadId, run.runId);
            report.cancelled++;
          }
        } catch (error) {
          // The coordinator could not be reached: the next sweep finds the run again.
          log({ event: "sweep_check_failed", queue: queueName, jobId: run.jobId, error: String(error) }, "warn");
        }
        return true;
      });

    let hardStop: ReturnType<typeof setTimeout> | undefined;
    const finished = await Promise.race([
      forEachBounded(planned, limits.concurrency, checkOne).then(() => true),
      new Promise<false>((resolve) => {
        hardStop = setTimeout(() => resolve(false), Math.max(0, session.startedAtMs + limits.hardBudgetMs - Date.now()));
      }),
    ]);
    clearTimeout(hardStop);
    if (!finished) report.stoppedEarly = "hard_budget";
    else if (session.breaker.tripped && report.runsChecked < planned.length) report.stoppedEarly = "langgraph_unreachable";
    else if (report.runsChecked < planned.length) report.stoppedEarly = "start_budget";
  }
  report.ms = Date.now() - session.startedAtMs;
  log({ event: "sweep", ...report }, report.stoppedEarly ? "warn" : "info");
  return report;
}
