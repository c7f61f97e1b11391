/**
 * What LangGraph says of a job's thread and its runs, read for the platform flavour
 * (platform.ts): which runs are the job's, whether the newest checkpoint is its own, what a run
 * that succeeded left (the thread's values, or the interrupts it stopped at), and the error a
 * failed run left on its thread.
 */
import type { Client, Run, Thread } from "@langchain/langgraph-sdk";
import { resultToReport, type PendingInterrupt } from "../coordinator/protocol";
import type { JsonValue } from "../jobs";
import type { LangGraphJob, RunInterrupted, RunOutcome, StartOutcome } from "./client";

/** Runs listed per request when looking for a job's runs on its thread. */
const RUNS_PAGE = 100;
/** How far a thread's runs are read: a conversation of 2,000 turns, far past any real one. */
const MAX_RUN_PAGES = 20;

/** A run's error as the stream's `error` event gives it: the error's name and message. */
export interface RunError {
  name?: string;
  message: string;
}

export class ThreadReader {
  constructor(private readonly client: Client) {}

  /** What a run that succeeded left: the thread's values, or the interrupts it stopped at. */
  async finalState(threadId: string): Promise<StartOutcome & RunOutcome> {
    const thread = await this.client.threads.get(threadId);
    if (thread.status === "interrupted") return this.interrupted(thread);
    return { status: "completed", result: resultToReport(thread.values ?? null) };
  }

  /**
   * The pending interrupts of a thread that stopped at `interrupt()`, each with the node that
   * asked. The thread's `interrupts` (by task id) are the pending ones: after a resume that
   * answered only some, the state's tasks still list the answered ones too. The tasks give the nodes.
   */
  async interrupted(thread: Thread): Promise<RunInterrupted> {
    const { tasks } = await this.client.threads.getState(thread.thread_id);
    const nodes = new Map(tasks.map((task) => [task.id, task.name]));
    const interrupts: PendingInterrupt[] = Object.entries(thread.interrupts ?? {}).flatMap(([taskId, pending]) =>
      pending.map((interrupt, i) => ({ id: interrupt.id ?? `${taskId}:${i}`, value: (interrupt.value ?? null) as JsonValue, node: nodes.get(taskId) ?? null })),
    );
    return { status: "interrupted", interrupts };
  }

  /** The error a thread whose run failed keeps, when the stream did not show it (the follow joined after the end). */
  async threadError(threadId: string): Promise<RunError | undefined> {
    const { error } = await this.client.threads.get(threadId).catch(() => ({ error: undefined }));
    if (typeof error === "string") return { message: error };
    if (error && typeof error === "object") return runErrorOf(error);
    return undefined;
  }

  /**
   * The job's runs on its thread, newest first: a thread a client chose has other jobs' runs too
   * (and an id enqueued again after its record expired is another job), told apart by the
   * metadata the queue gives every run. Servers differ in the order they list runs (the JS dev
   * server: oldest first), so every page is read, and sorted here.
   */
  async jobRuns(threadId: string, job: LangGraphJob): Promise<Run[]> {
    const mine: Run[] = [];
    for (let page = 0; page < MAX_RUN_PAGES; page++) {
      const runs = await this.client.runs.list(threadId, { limit: RUNS_PAGE, offset: page * RUNS_PAGE });
      mine.push(...runs.filter((run) => isJobs(run.metadata, job)));
      if (runs.length < RUNS_PAGE) break;
    }
    return mine.sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  async hasCheckpoint(threadId: string): Promise<boolean> {
    return Boolean((await this.client.threads.getState(threadId)).checkpoint?.checkpoint_id);
  }

  /**
   * Whether the thread's newest checkpoint is the job's own: then a new run continues from it.
   * A thread of its own has only the job's (LangGraph may lose a run yet keep its checkpoints).
   * On a thread the client chose, the checkpoint says whose it is (a run's metadata goes on its
   * checkpoints): one left by an earlier job, or none of this job's yet (its run failed before
   * writing one), is where this job starts from, with its payload as input.
   */
  async hasCheckpointOf(job: LangGraphJob): Promise<boolean> {
    const state = await this.client.threads.getState(job.threadId);
    if (!state.checkpoint?.checkpoint_id) return false;
    return !job.sharedThread || isJobs(state.metadata, job);
  }
}

/** Whether a run's (or checkpoint's) metadata names the job's record; runs from before records were named carry its id only. */
function isJobs(metadata: Record<string, unknown> | null | undefined, job: LangGraphJob): boolean {
  return metadata?.jobKey === undefined ? metadata?.jobId === job.jobId : metadata.jobKey === job.jobKey;
}

/** A run's error from what LangGraph says of it: `{error: <name>, message}`. */
export function runErrorOf(data: Record<string, unknown>): RunError {
  const name = typeof data.error === "string" && typeof data.message === "string" ? data.error : undefined;
  return { ...(name !== undefined && { name }), message: String(data.message ?? data.error ?? JSON.stringify(data)) };
}
