/**
 * The dashboard (GET /dashboard): the API key is asked once and kept in sessionStorage for this
 * tab; then every queue's counts and chart, the selected queue's jobs, and the open job's detail,
 * all kept current by the Worker's event streams.
 */
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { isQueueWorkerError } from "../../src/client/index";
import { clientFor, describeError, forgetKey, readiness, savedKey, saveKey, type Readiness } from "./api";
import { JobDetail } from "./job-detail";
import { JobsPanel } from "./jobs-panel";
import { QueueCard, type QueueJobEvent } from "./queue-card";

function App() {
  const [apiKey, setApiKey] = useState<string | null>(savedKey);
  const [ready, setReady] = useState<Readiness | null>(null);
  const [refused, setRefused] = useState<string | null>(null);

  async function connect(key: string) {
    setRefused(null);
    try {
      const report = await readiness(clientFor(key));
      saveKey(key);
      setApiKey(key);
      setReady(report);
    } catch (error) {
      forgetKey();
      setApiKey(null);
      setRefused(isQueueWorkerError(error, "UNAUTHORIZED") ? "That key was refused (UNAUTHORIZED)." : describeError(error));
    }
  }

  function signOut(reason: string | null = null) {
    forgetKey();
    setApiKey(null);
    setReady(null);
    setRefused(reason);
  }

  // A key kept from earlier in this tab (a reload): check it once, as if it had just been entered.
  useEffect(() => {
    if (apiKey !== null) void connect(apiKey);
  }, []);

  if (apiKey !== null && ready === null && refused === null) return <main class="loading" aria-busy="true">Connecting…</main>;
  if (apiKey === null || ready === null) return <KeyForm onSubmit={connect} refused={refused} />;
  return <Dashboard apiKey={apiKey} ready={ready} onSignOut={() => signOut()} onUnauthorized={() => signOut("The key is no longer accepted (UNAUTHORIZED).")} />;
}

function KeyForm({ onSubmit, refused }: { onSubmit(key: string): void; refused: string | null }) {
  const [key, setKey] = useState("");
  return (
    <main class="key-page">
      <form
        class="card key-form"
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit(key);
        }}
      >
        <h1>queue-worker</h1>
        <p class="muted">Enter an API key (one of the Worker's <code>API_KEYS</code>). It is kept for this tab only, until it closes. Under <code>npm start</code>, with no keys set, any key is let in.</p>
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" value={key} onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)} autofocus />
        <button type="submit">Connect</button>
        <p class="notice notice-error" role="alert">{refused ?? ""}</p>
      </form>
    </main>
  );
}

function Dashboard({ apiKey, ready, onSignOut, onUnauthorized }: { apiKey: string; ready: Readiness; onSignOut(): void; onUnauthorized(): void }) {
  const client = useMemo(() => clientFor(apiKey), [apiKey]);
  const jobEvents = useMemo(() => new EventTarget(), []);
  const [queueName, setQueueName] = useState(ready.queueNames[0]!);
  const [openJob, setOpenJob] = useState<{ queueName: string; jobId: string } | null>(null);
  const onJobEvent = (event: QueueJobEvent) => jobEvents.dispatchEvent(new CustomEvent("job", { detail: event }));

  return (
    <>
      <header class="top">
        <h1>queue-worker</h1>
        <span class={`badge ${ready.langgraph.ok ? "active" : "status-failed"}`} title={ready.langgraph.error ?? ready.langgraph.url}>
          LangGraph {ready.langgraph.ok ? "answering" : "not answering"}
        </span>
        <div class="spacer" />
        <button type="button" class="secondary" onClick={onSignOut}>Forget key</button>
      </header>
      <main class="layout">
        <div class="queues">
          {ready.queueNames.map((name) => (
            <QueueCard key={name} client={client} queueName={name} selected={name === queueName} onSelect={() => setQueueName(name)} onJobEvent={onJobEvent} onUnauthorized={onUnauthorized} />
          ))}
        </div>
        <JobsPanel client={client} queueName={queueName} jobEvents={jobEvents} openJobId={openJob?.jobId ?? null} onOpen={(jobId) => setOpenJob({ queueName, jobId })} />
        {openJob && <JobDetail key={`${openJob.queueName}/${openJob.jobId}`} client={client} queueName={openJob.queueName} jobId={openJob.jobId} onClose={() => setOpenJob(null)} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
