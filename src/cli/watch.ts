/**
 * `queue-worker watch`: a progress bar (cli-progress) with the job's current step, on stderr,
 * until the job ends; then one line on stdout (or, with --json, the final status and nothing else).
 *
 *   [████████████░░░░░░░░░░░░░░░░░░] 40% | transform
 *
 * On a terminal the bar redraws in place; elsewhere (a CI log, a pipe) it prints a line at each
 * change, and one every 10 s while nothing changes.
 */
import { SingleBar } from "cli-progress";
import { isTerminalStatus, type QueueWorkerClient, type StatusData } from "../client/index";
import { briefJson, stepLabel } from "./format";

export interface WatchOptions {
  queueName?: string;
  json: boolean;
  /** Poll `status` instead of following the event stream. */
  poll: boolean;
  pollIntervalMs?: number;
  /** Stop when the job is interrupted (waiting for a resume) instead of waiting on. */
  stopOnInterrupt: boolean;
}

/** Exit codes: the job completed; failed or was cancelled; is interrupted (with --stop-on-interrupt). */
export const EXIT = { completed: 0, failed: 1, interrupted: 2, aborted: 130 } as const;

/** Watches the job to its end and returns the process's exit code. */
export async function watch(client: QueueWorkerClient, jobId: string, options: WatchOptions): Promise<number> {
  const stderr = process.stderr;
  const tty = stderr.isTTY === true;
  const stop = new AbortController();
  const onSignal = () => stop.abort(new DOMException("stopped watching", "AbortError"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let bar: SingleBar | undefined;
  let drawn = "";
  let highest = 0;
  const show = (status: StatusData) => {
    if (options.json) return;
    const step = stepLabel(status);
    // waitForJob never reports progress going down; its final status is the job's own.
    highest = Math.max(highest, status.progress);
    const progress = highest;
    if (!bar) {
      bar = new SingleBar({
        format: "[{bar}] {percentage}% | {step}",
        barCompleteChar: "\u2588",
        barIncompleteChar: "\u2591",
        barsize: 30,
        hideCursor: tty,
        stream: stderr,
        // Off a terminal: a line per change (drawn below) and one every 10 s.
        noTTYOutput: true,
        notTTYSchedule: 10_000,
      });
      bar.start(100, progress, { step });
      drawn = `${progress}|${step}`;
      return;
    }
    bar.update(progress, { step });
    const now = `${progress}|${step}`;
    if (!tty && now !== drawn && !isTerminalStatus(status.status)) bar.render();
    drawn = now;
  };

  let fellBack: string | undefined;
  try {
    const final = await client.waitForJob(jobId, {
      ...(options.queueName !== undefined && { queueName: options.queueName }),
      signal: stop.signal,
      transport: options.poll ? "poll" : "auto",
      ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }),
      ...(options.stopOnInterrupt && { until: (status: StatusData) => isTerminalStatus(status.status) || status.status === "interrupted" }),
      onProgress: show,
      onFallback: (reason) => {
        fellBack = reason;
      },
    });
    show(final);
    bar?.stop();
    bar = undefined;
    if (options.json) {
      process.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
    } else {
      if (fellBack) stderr.write(`(no live stream, polled status: ${fellBack})\n`);
      process.stdout.write(`${summary(final)}\n`);
    }
    return final.status === "completed" ? EXIT.completed : final.status === "interrupted" ? EXIT.interrupted : EXIT.failed;
  } catch (error) {
    if (stop.signal.aborted) {
      bar?.stop();
      bar = undefined;
      stderr.write(`stopped watching ${jobId}; the job goes on (queue-worker cancel ${jobId} stops it)\n`);
      return EXIT.aborted;
    }
    throw error;
  } finally {
    bar?.stop();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

function summary(status: StatusData): string {
  const took = status.startedAt && status.completedAt ? ` in ${((Date.parse(status.completedAt) - Date.parse(status.startedAt)) / 1000).toFixed(1)} s` : "";
  switch (status.status) {
    case "completed":
      return `completed ${status.jobId}${took}${status.result === null ? "" : `: ${briefJson(status.result, 200)}`}`;
    case "failed":
      return `failed ${status.jobId}${took} after ${status.retryCount} ${status.retryCount === 1 ? "retry" : "retries"}: ${status.error ?? "no error given"}`;
    case "cancelled":
      return `cancelled ${status.jobId}`;
    case "interrupted":
      return `interrupted ${status.jobId}: ${briefJson(status.interrupts ?? [], 300)}\nanswer with: queue-worker resume ${status.jobId} '<json>'`;
    default:
      return `${status.status} ${status.jobId}`;
  }
}
