/**
 * Compile time only (nothing imports it): what the coordinator's views and the Worker answer
 * agrees with the response schemas of responses.ts, so that neither changes without the other.
 * Each check holds when every answer the view can give is valid under the schema, and the two
 * name the same fields; when they drift, `tsc --noEmit` fails here and says how.
 *
 * Where a view types a field more loosely than it is (JSON parsed from a column, typed JsonValue;
 * `toIso`, typed nullable for any input), the check puts the type the column really holds, named
 * where it is defined, and checks that type against the schema too.
 */
import type { z } from "zod";
import type { JobRow } from "../coordinator/job-row";
import type { EnqueueData, PendingInterrupt, RunOptions } from "../coordinator/protocol";
import type { circuitView, JobViews } from "../coordinator/views";
import type { ThroughputMinute } from "../coordinator/metrics";
import type { LangGraphHealth } from "../langgraph/client";
import type { QueueCoordinator } from "../queue-do";
import type * as schema from "./responses";

type Agrees<View, Schema> = [View] extends [Schema]
  ? [Exclude<keyof View, keyof Schema>, Exclude<keyof Schema, keyof View>] extends [never, never]
    ? true
    : { fieldsOnlyInView: Exclude<keyof View, keyof Schema>; fieldsOnlyInSchema: Exclude<keyof Schema, keyof View> }
  : { viewNotValidUnderSchema: View };
type Check<T extends true> = T;
type Out<S extends z.ZodType> = z.output<S>;
type Answer<Method extends (...args: never[]) => unknown> = Awaited<ReturnType<Method>> extends infer R ? (R extends { ok: true; data: infer D } ? D : never) : never;
type Item<List> = List extends readonly (infer T)[] ? T : never;

/** enqueueView copies the row's priority; EnqueueData (protocol.ts) types it as a string. */
type EnqueueAnswer = Omit<EnqueueData, "priority"> & Pick<JobRow, "priority">;
/** Every job has enqueued_at_ms (a number), so its toIso is never null. */
type Enqueued = { enqueuedAt: string };
/** The `status` answer: the view without `resultRef` (status-body.ts streams the result it names), its JSON columns as stored. */
type StatusAnswer = Omit<ReturnType<JobViews["statusView"]>, "resultRef" | "interrupts" | "enqueuedAt" | "priority" | "payload" | keyof RunOptions> &
  RunOptions & Enqueued & Pick<JobRow, "priority"> & { interrupts?: PendingInterrupt[]; payload: Record<string, unknown> };
type SummaryAnswer = Omit<ReturnType<JobViews["summaryView"]>, "enqueuedAt"> & Enqueued;
type ListAnswer = Omit<ReturnType<QueueCoordinator["list"]>, "jobs"> & { jobs: SummaryAnswer[] };
type HistoryAnswer = Answer<QueueCoordinator["history"]>;

export type ResponseChecks = [
  Check<Agrees<EnqueueAnswer, Out<typeof schema.enqueueData>>>,
  // index.ts answers enqueueBatch with each job's EnqueueData and `created`.
  Check<Agrees<EnqueueAnswer & { created: boolean }, Item<Out<typeof schema.enqueueBatchData>["jobs"]>>>,
  Check<Agrees<StatusAnswer, Out<typeof schema.statusData>>>,
  Check<Agrees<PendingInterrupt, Out<typeof schema.pendingInterrupt>>>,
  Check<Agrees<ReturnType<JobViews["stats"]>, Out<typeof schema.statsData>>>,
  Check<Agrees<ReturnType<typeof circuitView>, Out<typeof schema.circuitData>>>,
  Check<Agrees<ReturnType<QueueCoordinator["circuit"]>, Out<typeof schema.circuitData>>>,
  Check<Agrees<Answer<QueueCoordinator["cancel"]>, Out<typeof schema.cancelData>>>,
  Check<Agrees<SummaryAnswer, Out<typeof schema.jobSummary>>>,
  Check<Agrees<ListAnswer, Out<typeof schema.listData>>>,
  Check<Agrees<HistoryAnswer, Out<typeof schema.historyData>>>,
  Check<Agrees<Item<HistoryAnswer["events"]>, Out<typeof schema.historyEvent>>>,
  Check<Agrees<Answer<QueueCoordinator["resume"]>, Out<typeof schema.resumeData>>>,
  Check<Agrees<Answer<QueueCoordinator["retry"]> | Answer<QueueCoordinator["retryMany"]>, Out<typeof schema.retryData>>>,
  Check<Agrees<Answer<QueueCoordinator["setPaused"]>, Out<typeof schema.pauseData>>>,
  Check<Agrees<ReturnType<QueueCoordinator["throughput"]>, Out<typeof schema.throughputData>>>,
  Check<Agrees<ThroughputMinute, Out<typeof schema.throughputMinute>>>,
  Check<Agrees<LangGraphHealth, Out<typeof schema.langgraphHealth>>>,
];
