/**
 * The live-status streams (text/event-stream): their parameters and what each event carries,
 * by event name. A first version for the routes' author to refine; openapi.ts documents whatever
 * is here. Plain zod, like responses.ts, so that a client can parse the events with it.
 */
import { z } from "zod";
import { jobId, jobStatus, queueName } from "./api-schema";
import { statsData, statusData } from "./responses";

export const jobEventsPath = z.object({ jobId });
export const queueEventsPath = z.object({ name: queueName });
/** The key may come as `?apikey=`, as EventSource sends no headers: openapi.ts documents it as a security scheme. */
export const eventsQuery = z.object({ queueName: queueName.optional() });

export const eventSchemas = {
  /** GET /functions/v1/queue-worker/jobs/{jobId}/events: the job's status as the `status` action answers it, whenever it changes. */
  job: { status: statusData },
  /** GET /functions/v1/queue-worker/queues/{name}/events: each job's transitions, and the queue's counts. */
  queue: {
    job: z.object({ jobId, status: jobStatus, at: z.iso.datetime() }),
    counts: statsData.pick({
      queueName: true, totalJobs: true, queuedJobs: true, runningJobs: true, interruptedJobs: true, completedJobs: true, failedJobs: true, cancelledJobs: true,
    }),
  },
};
