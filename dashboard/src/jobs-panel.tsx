/**
 * A queue's jobs, a page at a time (the `list` action: a status filter, `limit`, `cursor`), and a
 * search by job id (`status`). Live: a transition on the queue's stream changes the row's status at
 * once, and the page is read again shortly after (for progress and steps), at most once a second.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { JobStatus, JobSummary, QueueWorkerClient } from "../../src/client/index";
import { describeError } from "./api";
import { JOB_STATUSES, shortTime } from "./format";
import type { QueueJobEvent } from "./queue-card";
import { NoticeLine, ProgressBar, StatusBadge, type Notice } from "./widgets";

const PAGE_SIZE = 20;
const REFRESH_AFTER_EVENT_MS = 1000;

export interface JobsPanelProps {
  client: QueueWorkerClient;
  queueName: string;
  /** Transitions of this queue's jobs, from the queue card's stream. */
  jobEvents: EventTarget;
  openJobId: string | null;
  onOpen(jobId: string): void;
}

export function JobsPanel({ client, queueName, jobEvents, openJobId, onOpen }: JobsPanelProps) {
  const [status, setStatus] = useState<JobStatus | "">("");
  // The cursors of the pages before this one, and this one's (undefined: the first page).
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<{ jobs: JobSummary[]; nextCursor: string | null } | null>(null);
  const [loading, setLoading] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [search, setSearch] = useState("");
  const [reload, setReload] = useState(0);
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    setCursors([undefined]);
  }, [queueName, status]);

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    client.list({ limit: PAGE_SIZE, ...(status && { status }), ...(cursor !== undefined && { cursor }) }, { queueName, signal: abort.signal }).then(
      (data) => {
        setPage(data);
        setLoading(false);
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        setLoading(false);
        setNotice({ kind: "error", text: describeError(error) });
      },
    );
    return () => abort.abort();
  }, [client, queueName, status, cursor, reload]);

  useEffect(() => {
    const onEvent = (event: Event) => {
      const job = (event as CustomEvent<QueueJobEvent>).detail;
      if (job.queueName !== queueName) return;
      setPage((current) => current && { ...current, jobs: current.jobs.map((row) => (row.jobId === job.jobId ? { ...row, status: job.status } : row)) });
      refreshTimer.current ??= setTimeout(() => {
        refreshTimer.current = null;
        setReload((n) => n + 1);
      }, REFRESH_AFTER_EVENT_MS);
    };
    jobEvents.addEventListener("job", onEvent);
    return () => {
      jobEvents.removeEventListener("job", onEvent);
      if (refreshTimer.current) clearTimeout(refreshTimer.current);
      refreshTimer.current = null;
    };
  }, [jobEvents, queueName]);

  async function find(event: Event) {
    event.preventDefault();
    const jobId = search.trim();
    if (!jobId) return;
    setNotice(null);
    try {
      await client.status(jobId, { queueName });
      onOpen(jobId);
    } catch (error) {
      setNotice({ kind: "error", text: describeError(error) });
    }
  }

  return (
    <section class="card jobs" aria-labelledby="jobs-heading">
      <header class="jobs-head">
        <h2 id="jobs-heading">Jobs in {queueName}</h2>
        <div class="spacer" />
        <label class="inline">
          Status
          <select value={status} onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value as JobStatus | "")}>
            <option value="">all</option>
            {JOB_STATUSES.map((s) => <option value={s} key={s}>{s}</option>)}
          </select>
        </label>
        <form class="search" onSubmit={find} role="search">
          <label class="inline">
            Job id
            <input type="search" value={search} onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)} placeholder="find a job by id" spellcheck={false} />
          </label>
          <button type="submit">Open</button>
        </form>
      </header>
      <NoticeLine notice={notice} />
      <div class="table-wrap">
        <table aria-busy={loading}>
          <caption class="visually-hidden">Jobs in {queueName}{status ? `, ${status}` : ""}</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Priority</th>
              <th scope="col">Progress · step</th>
              <th scope="col">Retries</th>
              <th scope="col">Enqueued</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {page?.jobs.map((job) => (
              <tr key={job.jobId} data-job-id={job.jobId} class={job.jobId === openJobId ? "open" : ""}>
                <td><button type="button" class="link" onClick={() => onOpen(job.jobId)} aria-label={`Open job ${job.jobId}`}>{job.jobId}</button></td>
                <td>{job.type}</td>
                <td><StatusBadge status={job.status} /></td>
                <td>{job.priority}</td>
                <td>
                  <ProgressBar value={job.progress} label={`Progress of ${job.jobId}`} />
                  <span class="step">{job.currentStep ?? "—"}</span>
                </td>
                <td class="num">{job.retryCount}</td>
                <td title={job.enqueuedAt}>{shortTime(job.enqueuedAt)}</td>
                <td class="error-cell" title={job.error ?? ""}>{job.error ?? ""}</td>
              </tr>
            ))}
            {page && page.jobs.length === 0 && (
              <tr><td colSpan={8} class="empty">No {status || ""} jobs{cursors.length > 1 ? " on this page" : ""}.</td></tr>
            )}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages of jobs">
        <button type="button" class="secondary" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>Previous page</button>
        <span class="muted">Page {cursors.length}</span>
        <button type="button" class="secondary" disabled={!page?.nextCursor} onClick={() => page?.nextCursor && setCursors((c) => [...c, page.nextCursor!])}>Next page</button>
      </nav>
    </section>
  );
}
