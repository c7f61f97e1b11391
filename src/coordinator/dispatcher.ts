/**
 * Dispatch: picking the best ready jobs for the free slots, inside the transaction of the change
 * that freed them, and sending them to the Cloudflare Queue once it has committed.
 */
import { holdsSlot } from "../jobs";
import { log } from "../log";
import { dispatchable } from "./circuit";
import { jobEvent, type CoordinatorHost } from "./host";
import { DISPATCH_LEASE_MS, type JobMessage } from "./protocol";

/** How long a Queue send may take before its jobs are left to their dispatch leases. */
const SEND_TIMEOUT_MS = 10_000;
/** Most messages one sendBatch may carry (a Queues limit). */
const SEND_BATCH_MAX = 100;

export class Dispatcher {
  /** Dispatched jobs waiting for the send in flight to finish, and that send. */
  private unsent: JobMessage[] = [];
  private sending: Promise<void> | null = null;
  sendTimeoutMs = SEND_TIMEOUT_MS;

  constructor(private readonly host: CoordinatorHost) {}

  /**
   * Marks the best ready jobs dispatched, as many as free slots (and the LangGraph circuit)
   * allow, and returns their messages to send once the transaction commits; none while the queue
   * is paused (admin.ts). Call inside one.
   */
  dispatchReady(now: number): JobMessage[] {
    const { store, views, config, queueName } = this.host;
    if (store.paused()) return [];
    const circuit = store.circuit();
    const allowed = dispatchable(circuit, config.concurrency - views.busySlots(), circuit.probe !== null && this.inFlight(circuit.probe));
    if (allowed <= 0) return [];
    const ready = circuit.state === "half_open" ? store.nextProbe() : store.nextReady(allowed);
    const sent = ready.map((job) => {
      const dispatched = { ...job, attempt: job.attempt + 1 };
      store.update(job, {
        state: "dispatched", attempt: dispatched.attempt, attempt_started_at_ms: null, lease_until_ms: now + DISPATCH_LEASE_MS, deliveries: 0,
      }, jobEvent(this.host, dispatched, "dispatched", now, circuit.state === "half_open" ? { probe: true } : {}));
      return { queueName, jobId: job.id, attempt: dispatched.attempt };
    });
    if (circuit.state === "half_open" && sent[0]) store.saveCircuit({ ...circuit, probe: { jobId: sent[0].jobId, attempt: sent[0].attempt } });
    return sent;
  }

  /** Whether the attempt still holds its slot. */
  private inFlight(attempt: { jobId: string; attempt: number }): boolean {
    const job = this.host.store.get(attempt.jobId);
    return job !== null && holdsSlot(job.state) && job.attempt === attempt.attempt;
  }

  /**
   * Sends dispatched jobs to the Queue. While one send is in flight, the messages of the changes
   * that commit meanwhile wait and go together in the next: under load, one sendBatch carries
   * many jobs instead of one each (a send costs far more than the SQL of a dispatch).
   */
  async send(messages: JobMessage[]): Promise<void> {
    this.unsent.push(...messages);
    while (this.sending) await this.sending;
    // Another caller's send took these messages along.
    if (this.unsent.length === 0) return;
    const batch = this.unsent.splice(0);
    this.sending = this.sendNow(batch).finally(() => (this.sending = null));
    await this.sending;
  }

  /**
   * Sends in batches of at most SEND_BATCH_MAX messages. A send that does not settle within
   * sendTimeoutMs is given up on, so that it cannot hold up the sends behind it; its jobs come
   * back through their dispatch leases.
   */
  private async sendNow(messages: JobMessage[]): Promise<void> {
    for (let start = 0; start < messages.length; start += SEND_BATCH_MAX) {
      const batch = messages.slice(start, start + SEND_BATCH_MAX);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer from the Queue within ${this.sendTimeoutMs} ms`)), this.sendTimeoutMs);
        });
        await Promise.race([this.host.env.JOB_QUEUE.sendBatch(batch.map((body) => ({ body }))), timeout]);
      } catch (error) {
        // The dispatch leases expire and the alarm puts these jobs back in the queue.
        log({ event: "dispatch_send_failed", queue: this.host.queueName, jobs: batch.length, error: String(error) }, "error");
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
