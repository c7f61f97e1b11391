/**
 * What comes due with time: retries whose backoff has passed, leases that lapsed, runs past their
 * job's own timeout, interrupts waited for too long, records past their retention, the circuit's
 * probe, and (for the cron sweep) runs past JOB_TIMEOUT_SECONDS.
 * Each function runs inside the caller's store transaction; running it twice at the same `now`
 * changes nothing the second time.
 */
import { log } from "../log";
import { probeDue } from "./circuit";
import type { Dispatcher } from "./dispatcher";
import { jobEvent, type CoordinatorHost } from "./host";
import type { JobRow } from "./job-store";
import { LEASE_MS, type JobMessage } from "./protocol";
import type { Transitions } from "./transitions";

/**
 * Everything due at `now`; returns the jobs dispatched into the slots it freed, the records it
 * deleted, and the running attempts it timed out (their followers must stop, and their runs).
 */
export function runDueTimers(
  host: CoordinatorHost, transitions: Transitions, dispatcher: Dispatcher, now: number,
): { messages: JobMessage[]; deleted: JobRow[]; timedOut: JobRow[] } {
  const { store, queueName } = host;
  transitions.setCircuit(probeDue(store.circuit(), now), now);
  for (const job of store.dueRetries(now)) {
    store.update(job, { state: "queued", next_retry_at_ms: null }, jobEvent(host, job, "retry_due", now, { retryCount: job.retry_count }));
  }
  for (const job of store.expiredLeases(now)) {
    if (job.state === "running") {
      // The follower renews the lease every HEARTBEAT_MS and its watchdog rejoins a run within
      // the lease should it die: a lease lapses when its reports could not get through (the
      // coordinator slow or away) or everything following it died. Neither is the job's doing.
      transitions.stall(job, `lease expired: no report from the run follower of attempt ${job.attempt} for ${LEASE_MS / 1000}s`, now);
    } else {
      // Sent but never claimed (the message was lost, or sending failed): not the job's fault.
      store.update(job, { state: "queued", lease_until_ms: null }, jobEvent(host, job, "dispatch_expired", now, {}));
    }
  }
  const timedOut: JobRow[] = [];
  for (const job of store.dueDeadlines(now)) {
    if (job.state === "running") {
      // Not retried: a run that outlasted its limit once would most likely do so again.
      transitions.failAttempt(job, { error: `timed out: the run took longer than the job's timeoutSeconds (${job.timeout_ms! / 1000}s)`, retryable: false }, now);
      timedOut.push(job);
    } else if (job.state === "interrupted") {
      const waitedS = host.config.interruptTimeoutMs / 1000;
      transitions.end(job, "failed", now, { interruptExpired: true }, {
        error: `interrupted: no resume within INTERRUPT_TIMEOUT_SECONDS (${waitedS}s) of the graph's interrupt`,
      });
    }
  }
  const deleted = store.expiredRecords(now);
  for (const job of deleted) {
    store.delete(job);
    log({ event: "expired", queue: queueName, jobId: job.id, state: job.state });
  }
  return { messages: dispatcher.dispatchReady(now), deleted, timedOut };
}

/** Fails the attempts running longer than JOB_TIMEOUT_SECONDS; returns how many. */
export function failOverdueRuns(host: CoordinatorHost, transitions: Transitions, now: number): number {
  const overdue = host.store.runningSince(now - host.config.jobTimeoutMs);
  for (const job of overdue) {
    const error = `timed out: running for more than ${host.config.jobTimeoutMs / 1000}s`;
    transitions.failAttempt(job, { error, retryable: false }, now);
  }
  return overdue.length;
}
