/**
 * One job: its status, progress, thread, payload, result or error, and its history as a timeline,
 * live from the job's event stream; and what an operator may do with it (cancel, retry, resume).
 *
 * The history is read once (`history`), then the stream is opened with Last-Event-ID set to the
 * entries read, so the server sends every later transition and the current status: nothing is
 * missed between the two, and nothing is shown twice.
 */
import { useEffect, useState } from "preact/hooks";
import type { HistoryEvent, QueueWorkerClient, StatusData } from "../../src/client/index";
import { describeError } from "./api";
import { canCancel, canResume, canRetry, json, shortTime } from "./format";
import { followStream, type StreamState } from "./sse";
import { Field, NoticeLine, ProgressBar, StatusBadge, type Notice } from "./widgets";

export interface JobDetailProps {
  client: QueueWorkerClient;
  queueName: string;
  jobId: string;
  onClose(): void;
}

export function JobDetail({ client, queueName, jobId, onClose }: JobDetailProps) {
  const [job, setJob] = useState<StatusData | null>(null);
  const [events, setEvents] = useState<HistoryEvent[]>([]);
  const [stream, setStream] = useState<StreamState>("connecting");
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  const [resumeText, setResumeText] = useState('{"approved": true}');
  // Each (re)start of the stream, after an action has queued the job again (its stream had ended).
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      const [status, history] = await Promise.all([client.status(jobId, { queueName, signal: abort.signal }), client.history(jobId, { queueName, signal: abort.signal })]);
      if (abort.signal.aborted) return;
      setJob(status);
      setEvents(history.events);
      await followStream({
        client, url: client.eventsUrl(jobId, queueName), signal: abort.signal, onState: setStream, lastEventId: String(history.events.length),
        onEvent: (message) => {
          const data = JSON.parse(message.data);
          if (message.event === "status") setJob(data as StatusData);
          else if (message.event === "transition") {
            const { jobId: _id, ...entry } = data as HistoryEvent & { jobId: string };
            const number = Number(message.id);
            // Entries are numbered from 1: put each at its place, so a replay never duplicates one.
            setEvents((current) => (number > current.length ? [...current, entry] : current));
          }
        },
      });
    })().catch((error: unknown) => !abort.signal.aborted && setNotice({ kind: "error", text: describeError(error) }));
    return () => abort.abort();
  }, [client, queueName, jobId, generation]);

  async function act(what: string, run: () => Promise<unknown>) {
    setBusy(true);
    setNotice(null);
    try {
      await run();
      setNotice({ kind: "ok", text: what });
      setGeneration((n) => n + 1);
    } catch (error) {
      setNotice({ kind: "error", text: describeError(error) });
    } finally {
      setBusy(false);
    }
  }

  function resume(event: Event) {
    event.preventDefault();
    let value: unknown;
    try {
      value = JSON.parse(resumeText);
    } catch {
      setNotice({ kind: "error", text: "The resume value is not valid JSON." });
      return;
    }
    void act("Resumed: the job is queued again with your answer.", () => client.resume(jobId, value as never, { queueName }));
  }

  return (
    <section class="card detail" aria-labelledby="detail-heading" data-job-id={jobId}>
      <header class="detail-head">
        <h2 id="detail-heading">Job <code>{jobId}</code></h2>
        {job && <StatusBadge status={job.status} />}
        <span class={`stream stream-${stream}`} title="live updates">{stream === "open" ? "● live" : stream === "ended" ? "ended" : stream}</span>
        <div class="spacer" />
        <button type="button" class="secondary" onClick={onClose}>Close</button>
      </header>
      <NoticeLine notice={notice} />
      {job && (
        <>
          <div class="actions">
            <button type="button" disabled={busy || !canCancel(job.status)} onClick={() => act("Cancelled.", () => client.cancel(jobId, { queueName }))}>Cancel job</button>
            <button type="button" disabled={busy || !canRetry(job.status)} onClick={() => act("Retried: the job is queued again.", () => client.retry(jobId, { queueName }))}>Retry job</button>
          </div>
          {canResume(job.status) && (
            <form class="resume" onSubmit={resume}>
              <label for="resume-value">Resume value (JSON)</label>
              <textarea id="resume-value" rows={3} value={resumeText} onInput={(e) => setResumeText((e.currentTarget as HTMLTextAreaElement).value)} spellcheck={false} />
              <button type="submit" disabled={busy}>Resume job</button>
            </form>
          )}
          <ProgressBar value={job.progress} label={`Progress of ${jobId}`} />
          <dl class="fields">
            <Field label="Type">{job.type}</Field>
            <Field label="Step">{job.currentStep ?? "—"}</Field>
            <Field label="Retries">{`${job.retryCount} of ${job.maxRetries}`}</Field>
            <Field label="Thread">{job.threadId ? <code>{job.threadId}</code> : "—"}</Field>
            <Field label="Enqueued"><span title={job.enqueuedAt}>{shortTime(job.enqueuedAt)}</span></Field>
            <Field label="Started"><span title={job.startedAt ?? ""}>{shortTime(job.startedAt)}</span></Field>
            <Field label="Ended"><span title={job.completedAt ?? ""}>{shortTime(job.completedAt)}</span></Field>
            {job.nextRetryAt && <Field label="Next retry">{shortTime(job.nextRetryAt)}</Field>}
            {job.queuePosition !== undefined && <Field label="Queue position">{String(job.queuePosition)}</Field>}
          </dl>
          {job.error && (
            <>
              <h3>Error</h3>
              <pre class="error" data-testid="job-error">{job.error}</pre>
            </>
          )}
          {job.interrupts && (
            <>
              <h3>Waiting for an answer</h3>
              <pre>{json(job.interrupts)}</pre>
            </>
          )}
          <h3>Payload</h3>
          <pre data-testid="job-payload">{json(job.payload)}</pre>
          <h3>Result</h3>
          <pre data-testid="job-result">{json(job.result)}</pre>
        </>
      )}
      <h3>History</h3>
      <ol class="timeline" aria-label={`History of ${jobId}`}>
        {events.map((entry, i) => (
          <li key={i} class={`event-${entry.event}`}>
            <time dateTime={entry.at} title={entry.at}>{shortTime(entry.at)}</time>
            <span class="event-name">{entry.event}</span>
            {entry.attempt > 0 && <span class="muted">attempt {entry.attempt}</span>}
            {entry.detail !== null && entry.detail !== undefined && <code class="event-detail">{JSON.stringify(entry.detail)}</code>}
          </li>
        ))}
      </ol>
    </section>
  );
}
