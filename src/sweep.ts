/**
 * The cron trigger's sweep of one queue: the coordinator's own timers and timeouts, then a
 * look at LangGraph for runs nobody may be listening to. A run that succeeded while its
 * consumer was gone is recorded; a cancelled or failed job's run that is still going is stopped.
 */
import type { AppEnv } from "./config";
import { langGraphClient } from "./langgraph";
import { log } from "./log";
import { coordinatorFor } from "./queue-do";

export async function sweepQueue(env: AppEnv, queueName: string): Promise<void> {
  const coordinator = coordinatorFor(env, queueName);
  const { timedOut } = await coordinator.sweep();
  const langgraph = langGraphClient(env);
  const { unfinished, stopped } = await coordinator.runsToCheck();
  let recovered = 0;
  for (const job of unfinished) {
    const check = await langgraph.checkRun(job.threadId, job.runId);
    if (check.status === "completed" && (await coordinator.recordFinishedRun(job.jobId, job.attempt, check.result, check.runMs))) recovered++;
  }
  for (const job of stopped) {
    if ((await langgraph.checkRun(job.threadId, job.runId)).status === "active") await langgraph.cancelRun(job.threadId, job.runId);
  }
  log({ event: "sweep", queue: queueName, timedOut, recovered, runsChecked: unfinished.length + stopped.length });
}
