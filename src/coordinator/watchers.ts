/**
 * Live status: the coordinator pushes each change to whoever watches, over hibernatable
 * WebSockets that the Worker's event-stream routes (src/http/events.ts) hold open to it.
 *
 * A watcher costs one request to this object, when it connects; nothing while the job does not
 * change (the object hibernates between changes, and sockets that wait cost no duration); and
 * nothing per event: an event is a message the object sends on a socket, once the transaction
 * that made the change has committed (JobStore.onCommit). Nobody polls.
 *
 * A job's watchers (socket tag `job:<id>`) get, at every change, the history entries they have
 * not seen (`transition`, their ids the entries' numbers) and then the job's status (`status`,
 * the same shape as the `status` action's data, its id the number of entries it reflects); at
 * the job's end that status is the last message, and the socket is closed. A socket's
 * attachment keeps what it has seen, so a hibernated object carries on where it left. The
 * queue's watchers (tag `queue`) get every transition of every job (`job`) and the counts (with
 * whether the queue is paused).
 */
import { isTerminal, publicStatus, toIso } from "../jobs";
import type { Changes, JobEvent, JobRow } from "./job-store";
import type { CoordinatorHost } from "./host";

/** What a stream message carries: an SSE event's name, id and data. */
export interface StreamMessage {
  event: "status" | "transition" | "job" | "counts";
  id?: string;
  data: unknown;
  /** The status is too large for a message (its result): the Worker reads it with the `status` action instead. */
  fetchStatus?: true;
}

/** What a job watcher's socket remembers: the job, how many history entries it has seen, the progress it last showed. */
interface JobWatch {
  jobId: string;
  seen: number;
  progress: number;
}

/** A WebSocket message the Worker gets is at most 1 MiB of UTF-8: a status over this is read by the Worker instead. */
const MAX_MESSAGE_BYTES = 900 * 1024;
/** Why a socket is closed when its job has ended, or its record is gone. */
const CLOSE_ENDED = 1000;

export class Watchers {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly host: CoordinatorHost,
  ) {}

  /**
   * Opens a watch: the status now (after the entries a reconnect missed, since `seen`), and
   * every change from then on. Answers 404 for a job that does not exist.
   */
  watchJob(jobId: string, seen: number | null, now: number): Response {
    const job = this.host.store.get(jobId);
    if (!job) return new Response(null, { status: 404 });
    const { count } = this.host.store.reads.historySince(jobId, Number.MAX_SAFE_INTEGER)!;
    // EventSource reconnects after every end: to a job that has ended and whose end it has seen,
    // 204 says stop (the SSE spec's answer), rather than the same last status once a second.
    if (isTerminal(job.state) && seen !== null && seen >= count) return new Response(null, { status: 204 });
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [`job:${jobId}`]);
    // A first connection has seen nothing but gets no replay: the status says where the job is.
    const watch: JobWatch = { jobId, seen: seen === null ? count : Math.min(seen, count), progress: 0 };
    this.pushJob(job, [[server, watch]], now);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Opens a watch of the whole queue: its counts now, then every transition and the counts after each change. */
  watchQueue(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, ["queue"]);
    send(server, { event: "counts", data: this.counts() });
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Pushes what a committed transaction changed to those watching it. */
  publish(changes: Changes, now = Date.now()): void {
    if (this.ctx.getWebSockets().length === 0) return;
    for (const jobId of changes.jobs) {
      const sockets = this.ctx.getWebSockets(`job:${jobId}`);
      if (sockets.length === 0) continue;
      const job = this.host.store.get(jobId);
      if (job) this.pushJob(job, sockets.map((socket) => [socket, socket.deserializeAttachment() as JobWatch]), now);
      else for (const socket of sockets) socket.close(CLOSE_ENDED, "the job's record is gone");
    }
    const queueSockets = this.ctx.getWebSockets("queue");
    // Counts go after every change, even one with no transition (a record deleted at its expiry).
    if (queueSockets.length === 0) return;
    const messages: StreamMessage[] = changes.events.map(({ jobId, state, event }) => ({
      event: "job", data: { jobId, status: publicStatus(state), event: event.event, at: toIso(event.at_ms), attempt: event.attempt },
    }));
    messages.push({ event: "counts", data: this.counts() });
    for (const socket of queueSockets) for (const message of messages) send(socket, message);
  }

  /**
   * To each watcher, the entries it has not seen, then the status; at the job's end, the socket
   * is closed. The history and the status are read once for all of them.
   */
  private pushJob(job: JobRow, watches: [WebSocket, JobWatch][], now: number): void {
    const from = Math.min(...watches.map(([, watch]) => watch.seen));
    const history = this.host.store.reads.historySince(job.id, from)!;
    const status = this.host.views.statusView(job, now);
    const id = String(history.count);
    const json = JSON.stringify(status);
    const fits = json.length * 3 <= MAX_MESSAGE_BYTES || new TextEncoder().encode(json).byteLength <= MAX_MESSAGE_BYTES;
    for (const [socket, watch] of watches) {
      history.events.slice(watch.seen - from).forEach((entry, i) => send(socket, { event: "transition", id: String(watch.seen + i + 1), data: transition(job.id, entry) }));
      // Progress never goes down on a stream: a retry resuming from a checkpoint may report less for a while.
      const progress = Math.max(watch.progress, status.progress);
      send(socket, fits ? { event: "status", id, data: { ...status, progress } } : { event: "status", id, data: null, fetchStatus: true });
      socket.serializeAttachment({ jobId: job.id, seen: history.count, progress } satisfies JobWatch);
      if (isTerminal(job.state)) socket.close(CLOSE_ENDED, "the job has ended");
    }
  }

  private counts() {
    const { queueName, totalJobs, queuedJobs, runningJobs, interruptedJobs, completedJobs, failedJobs, cancelledJobs, paused } = this.host.views.stats(this.host.queueName);
    return { queueName, totalJobs, queuedJobs, runningJobs, interruptedJobs, completedJobs, failedJobs, cancelledJobs, paused };
  }
}

const transition = (jobId: string, entry: JobEvent) => ({ jobId, event: entry.event, at: toIso(entry.at_ms), attempt: entry.attempt, detail: entry.detail });

/** Sends, unless the Worker's end has gone: its close reaches the object's webSocketClose. */
function send(socket: WebSocket, message: StreamMessage): void {
  try {
    socket.send(JSON.stringify(message));
  } catch {
    // Closing or closed: nothing more to tell it.
  }
}
