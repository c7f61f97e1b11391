/**
 * One queue: its counts and paused state, live from the queue's event stream (`counts` at once and
 * after every change; `job` for each transition, passed on to the jobs table), the pause and
 * unpause buttons, and its throughput chart.
 */
import { useEffect, useState } from "preact/hooks";
import type { JobStatus, QueueWorkerClient, StatsData } from "../../src/client/index";
import { describeError } from "./api";
import { followStream, type StreamState } from "./sse";
import { ThroughputChart } from "./throughput-chart";
import { NoticeLine, type Notice } from "./widgets";

/** A `job` event of a queue stream: one transition of one of its jobs. */
export interface QueueJobEvent {
  queueName: string;
  jobId: string;
  status: JobStatus;
  event: string;
  at: string;
  attempt: number;
}

type Counts = Pick<StatsData, "queuedJobs" | "runningJobs" | "interruptedJobs" | "completedJobs" | "failedJobs" | "cancelledJobs" | "totalJobs"> & { paused?: boolean };

const COUNTS: { key: keyof Counts; label: string; status: string }[] = [
  { key: "queuedJobs", label: "Queued", status: "queued" },
  { key: "runningJobs", label: "Running", status: "running" },
  { key: "interruptedJobs", label: "Interrupted", status: "interrupted" },
  { key: "completedJobs", label: "Completed", status: "completed" },
  { key: "failedJobs", label: "Failed", status: "failed" },
  { key: "cancelledJobs", label: "Cancelled", status: "cancelled" },
];

export interface QueueCardProps {
  client: QueueWorkerClient;
  queueName: string;
  selected: boolean;
  onSelect(): void;
  onJobEvent(event: QueueJobEvent): void;
  /** The key was refused (401): back to the key form. */
  onUnauthorized(): void;
}

export function QueueCard({ client, queueName, selected, onSelect, onJobEvent, onUnauthorized }: QueueCardProps) {
  const [stats, setStats] = useState<StatsData | null>(null);
  const [counts, setCounts] = useState<Counts | null>(null);
  const [paused, setPaused] = useState<boolean | undefined>(undefined);
  const [stream, setStream] = useState<StreamState>("connecting");
  const [endedJobs, setEndedJobs] = useState(0);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);

  useEffect(() => {
    const abort = new AbortController();
    client.stats({ queueName, signal: abort.signal }).then(
      (data) => {
        setStats(data);
        setCounts((current) => current ?? data);
        setPaused((current) => current ?? data.paused);
      },
      (error: unknown) => !abort.signal.aborted && setNotice({ kind: "error", text: describeError(error) }),
    );
    const url = `${client.endpoint}/queues/${encodeURIComponent(queueName)}/events`;
    followStream({
      client, url, signal: abort.signal, onState: setStream,
      onEvent: (message) => {
        const data = JSON.parse(message.data) as Record<string, unknown>;
        if (message.event === "counts") {
          setCounts(data as unknown as Counts);
          if (typeof data.paused === "boolean") setPaused(data.paused);
        } else if (message.event === "job") {
          const event = { ...(data as unknown as Omit<QueueJobEvent, "queueName">), queueName };
          if (["completed", "failed", "cancelled"].includes(event.status)) setEndedJobs((n) => n + 1);
          onJobEvent(event);
        }
      },
    }).catch((error: unknown) => {
      if ((error as { status?: number }).status === 401) onUnauthorized();
    });
    return () => abort.abort();
  }, [client, queueName]);

  async function setPause(pause: boolean) {
    setBusy(true);
    setNotice(null);
    try {
      const data = await (pause ? client.pause({ queueName }) : client.unpause({ queueName }));
      setPaused(data.paused);
      setNotice({ kind: "ok", text: data.paused ? `Paused ${queueName}: nothing new starts; running jobs finish.` : `Unpaused ${queueName}.` });
    } catch (error) {
      setNotice({ kind: "error", text: describeError(error) });
    } finally {
      setBusy(false);
    }
  }

  const headingId = `queue-${queueName}`;
  return (
    <section class={`card queue ${selected ? "selected" : ""}`} aria-labelledby={headingId} data-queue={queueName}>
      <header class="queue-head">
        <h2 id={headingId}>{queueName}</h2>
        <span class={`badge ${paused ? "paused" : "active"}`} data-testid="paused-state">{paused === undefined ? "…" : paused ? "Paused" : "Active"}</span>
        <span class={`stream stream-${stream}`} title="live updates">{streamLabel(stream)}</span>
        <div class="spacer" />
        {paused
          ? <button type="button" onClick={() => setPause(false)} disabled={busy}>Unpause</button>
          : <button type="button" onClick={() => setPause(true)} disabled={busy || paused === undefined}>Pause</button>}
        <button type="button" class="secondary" onClick={onSelect} aria-pressed={selected}>{selected ? "Showing jobs" : "Show jobs"}</button>
      </header>
      <dl class="counts">
        {COUNTS.map(({ key, label, status }) => (
          <div class={`count status-${status}`} key={key}>
            <dt>{label}</dt>
            <dd data-testid={`count-${status}`}>{counts ? String(counts[key]) : "…"}</dd>
          </div>
        ))}
      </dl>
      {stats && <p class="muted">Concurrency {stats.concurrency} · capacity {stats.capacity} · LangGraph circuit {stats.langgraph.circuit}</p>}
      <NoticeLine notice={notice} />
      <ThroughputChart client={client} queueName={queueName} endedJobs={endedJobs} />
    </section>
  );
}

function streamLabel(state: StreamState): string {
  return { connecting: "connecting…", open: "● live", reconnecting: "reconnecting…", ended: "ended", failed: "not live" }[state];
}
