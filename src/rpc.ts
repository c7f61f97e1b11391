/**
 * How the Worker's parts reach the Durable Objects: the stubs of a queue's coordinator and of a
 * job's run follower, and the few tries worth making before a call is given up.
 */
import type { AppEnv } from "./config";
import type { QueueCoordinator } from "./queue-do";

export const coordinatorFor = (env: AppEnv, queueName: string): DurableObjectStub<QueueCoordinator> =>
  env.QUEUE_COORDINATOR.getByName(queueName) as DurableObjectStub<QueueCoordinator>;

/** A job's follower, by the name its coordinator gave it (protocol.ts, followerName). */
export const followerFor = (env: AppEnv, name: string) => env.RUN_FOLLOWER.getByName(name);

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
