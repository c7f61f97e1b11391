/**
 * The live-status streams (text/event-stream, src/http/events.ts): their parameters and what each
 * event carries, by event name; openapi.ts documents them. Plain zod, like responses.ts, so that
 * a client can parse the events with it.
 */
import { z } from "zod";
import { jobId, jobStatus, queueName } from "./api-schema";
import { historyEvent, statsData, statusData } from "./responses";

export const jobEventsPath = z.object({ jobId });
export const queueEventsPath = z.object({ name: queueName });
/** The key may come as `?apikey=`, as EventSource sends no headers: openapi.ts documents it as a security scheme. */
export const eventsQuery = z.object({ queueName: queueName.optional() });

/** A history entry of the job's, as the `history` action lists it, with the job's id. */
export const transitionEvent = historyEvent.extend({ jobId });

/**
 * Each stream's events by name (the SSE `event:` line); `data:` is the JSON of the schema. Job
 * streams number their events (`id:`, the count of history entries they reflect): a reconnect
 * sending `Last-Event-ID` gets the `transition`s it missed, then a `status`.
 */
export const eventSchemas = {
  /** GET /functions/v1/queue-worker/jobs/{jobId}/events: the status at once and after every change; the terminal one is last. */
  job: { status: statusData, transition: transitionEvent },
  /** GET /functions/v1/queue-worker/queues/{name}/events: each job's transitions, and the queue's counts (at once, after each change, and when it is paused or unpaused). */
  queue: {
    job: z.object({ jobId, status: jobStatus, event: z.string(), at: z.iso.datetime(), attempt: z.int().min(0) }),
    counts: statsData.pick({
      queueName: true, totalJobs: true, queuedJobs: true, runningJobs: true, interruptedJobs: true, completedJobs: true, failedJobs: true, cancelledJobs: true,
      paused: true,
    }),
  },
};
