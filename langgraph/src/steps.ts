// Shared by the example graphs: the test-hook state fields, and `defineSteps`, which
// wraps each node so it reports progress, honours the hooks and, when asked, counts and times its runs.
import { Annotation, type AnnotationRoot, type LangGraphRunnableConfig, type StateDefinition } from "@langchain/langgraph";

/** The payload of every custom stream event the example graphs emit. */
export interface ProgressEvent {
  /** Integer 0–100, for the whole graph. */
  progress: number;
  /** The node that is running, e.g. "generating_content". */
  step: string;
  /** Optional human-readable detail, e.g. "item 3/10". */
  message?: string;
}

export interface FailTimes {
  node: string;
  times: number;
}

export interface FinalError {
  node: string;
  /** The thrown Error's `name`; default "NonRetryableError". */
  name?: string;
  message?: string;
}

/** What the graph's first node saw of its config, with `echoConfig`. */
export interface SeenConfig {
  context: unknown;
  configurable: Record<string, unknown>;
  tags: string[];
  recursionLimit: number | undefined;
  metadata: Record<string, unknown>;
}

/** When a node began (before its delay) and when it returned, as `Date.now()` on the server. */
export interface StepTime {
  startedAtMs: number;
  endedAtMs: number;
}

function addRuns(left: Record<string, number>, right: Record<string, number>): Record<string, number> {
  const sum = { ...left };
  for (const [node, runs] of Object.entries(right)) sum[node] = (sum[node] ?? 0) + runs;
  return sum;
}

/** Input fields that let end-to-end tests steer a real run; spread into each graph's state. */
export const testHookFields = {
  /** Every node sleeps this long before working (batch_processing: per item). */
  delayMs: Annotation<number | undefined>,
  /** Node `node` throws on its first `times` executions on this thread. */
  failTimes: Annotation<FailTimes | undefined>,
  /**
   * Node `node` throws on every execution, an Error named `name` (default "NonRetryableError"):
   * a failure the graph marks as final, which a retry cannot cure.
   */
  finalError: Annotation<FinalError | undefined>,
  /** The graph's first node writes `seenConfig`: how the run's context and config reach a node. */
  echoConfig: Annotation<boolean | undefined>,
  /** Output of `echoConfig`. */
  seenConfig: Annotation<SeenConfig | undefined>,
  /**
   * The graph's first node works this long (after its delay) without honouring the abort
   * signal, as a real LLM call does: cancelling or interrupting its run does not stop it.
   */
  ignoreAbortMs: Annotation<number | undefined>,
  /** Counts that node's executions under this key (default: the thread id, which a thread copy does not keep). */
  ignoreAbortKey: Annotation<string | undefined>,
  /** How many executions of the abort-ignoring node had started under its key when the last one ended: 1 if it ran once. */
  ignoreAbortStarts: Annotation<number | undefined>,
  /**
   * The graph's last node adds `longHistory`, about this many bytes of JSON (as an agent with a
   * long message history leaves), so that a test can have a final state over a size.
   */
  resultBytes: Annotation<number | undefined>,
  /** Output of `resultBytes`: 1,000-character messages, each with one two-byte character. */
  longHistory: Annotation<string[] | undefined>,
  /**
   * Every node adds itself to `nodeRuns` and `stepTimes`. Off by default, so that a job's result
   * (the final state) holds what the graph computes, not the tests' bookkeeping.
   */
  instrument: Annotation<boolean | undefined>,
  /**
   * Output of `instrument`: completed executions per node. A node that throws writes nothing, so
   * it is not counted. No default: a channel with one would show `{}` in every final state.
   */
  nodeRuns: Annotation<Record<string, number>>({ reducer: addRuns }),
  /** Output of `instrument`: per node, its last completed execution's start and end times (benchmarks read them). */
  stepTimes: Annotation<Record<string, StepTime>>({ reducer: (left, right) => ({ ...left, ...right }) }),
};

interface HookState {
  instrument?: boolean;
  delayMs?: number;
  resultBytes?: number;
  failTimes?: FailTimes;
  finalError?: FinalError;
  echoConfig?: boolean;
  ignoreAbortMs?: number;
  ignoreAbortKey?: string;
}

export interface StepContext {
  /** Emit progress for a fraction (0–1) of this step's work. */
  report(fraction: number, message?: string): void;
  /** Sleep `delayMs`, or reject if the run is cancelled first. */
  delay(): Promise<void>;
}

// A node that throws leaves nothing in the checkpoint (its writes are discarded), so the
// count of deliberate failures cannot live in graph state. It lives here, keyed by
// thread: good enough because `langgraphjs dev` runs every graph in one process. It is
// lost when the server restarts, which only resets the failures still to come.
const failuresByThreadNode = new Map<string, number>();

function failIfAsked(state: HookState, node: string, config: LangGraphRunnableConfig): void {
  const { failTimes } = state;
  if (failTimes?.node !== node) return;
  const threadId = config.configurable?.thread_id ?? "no-thread";
  const key = `${threadId}\u0000${node}`;
  const failed = failuresByThreadNode.get(key) ?? 0;
  if (failed >= failTimes.times) return;
  failuresByThreadNode.set(key, failed + 1);
  throw new Error(`${node} failed on purpose (failTimes: failure ${failed + 1} of ${failTimes.times})`);
}

function failForGoodIfAsked({ finalError }: HookState, node: string): void {
  if (finalError?.node !== node) return;
  const error = new Error(finalError.message ?? `${node} failed for good (finalError)`);
  error.name = finalError.name ?? "NonRetryableError";
  throw error;
}

// The server adds keys of its own to `configurable` and `metadata` (ids, versions, pregel
// internals): dropped, so that what the caller passed stands out and the state stays small.
const SERVER_CONFIGURABLE = /^(__pregel_|checkpoint_|user-agent$|run_id$|graph_id$|assistant_id$)/;
const SERVER_METADATA = /^(langgraph_|ls_|checkpoint_)/;

function plainEntries(record: Record<string, unknown> | undefined, drop: RegExp): Record<string, unknown> {
  return JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(record ?? {}).filter(([key, value]) => !drop.test(key) && typeof value !== "function"))));
}

function seenConfig(config: LangGraphRunnableConfig): SeenConfig {
  return {
    context: config.context ?? null,
    configurable: plainEntries(config.configurable, SERVER_CONFIGURABLE),
    tags: config.tags ?? [],
    recursionLimit: config.recursionLimit,
    metadata: plainEntries(config.metadata, SERVER_METADATA),
  };
}

// Started executions of the abort-ignoring node, by key: in memory (the one-process dev server),
// because an execution whose run was interrupted writes nothing to the checkpoint, yet ran.
const ignoreAbortStarts = new Map<string, number>();

/** Works `ignoreAbortMs` without looking at the abort signal (a timer nothing clears); returns the starts so far. */
async function workIgnoringAbort(state: HookState, config: LangGraphRunnableConfig): Promise<number> {
  const key = state.ignoreAbortKey ?? String(config.configurable?.thread_id ?? "no-thread");
  ignoreAbortStarts.set(key, (ignoreAbortStarts.get(key) ?? 0) + 1);
  await new Promise((resolve) => setTimeout(resolve, state.ignoreAbortMs));
  return ignoreAbortStarts.get(key)!;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Wraps a graph's nodes; `order` lists its steps as they run (parallel ones side by side),
 * which sets each step's share of the progress. Each wrapped node emits `{progress, step}`
 * when it starts and when it ends, sleeps `delayMs` (or leaves that to its work, with
 * `manualDelay`), fails as `failTimes` and `finalError` ask, and with `instrument` adds itself
 * to `nodeRuns` and `stepTimes`. It catches nothing: an `interrupt()` in `work` throws LangGraph's
 * GraphInterrupt straight through, so an interrupted execution counts as no run.
 */
export function defineSteps<Def extends StateDefinition, const Names extends readonly string[]>(
  _schema: AnnotationRoot<Def>,
  order: Names,
) {
  type State = AnnotationRoot<Def>["State"] & HookState;
  return function step<Update extends object>(
    name: Names[number],
    work: (state: State, ctx: StepContext) => Update | Promise<Update>,
    options: { manualDelay?: boolean } = {},
  ) {
    const index = order.indexOf(name);
    const startPct = (index * 100) / order.length;
    const endPct = ((index + 1) * 100) / order.length;

    return async (state: State, config: LangGraphRunnableConfig) => {
      const startedAtMs = Date.now();
      const emit = (fraction: number, message?: string) => {
        const clamped = Math.min(1, Math.max(0, fraction));
        const event: ProgressEvent = {
          progress: Math.floor(startPct + (endPct - startPct) * clamped),
          step: name,
          ...(message === undefined ? {} : { message }),
        };
        config.writer?.(event);
      };
      const ctx: StepContext = {
        report: emit,
        delay: () => sleep(state.delayMs ?? 0, config.signal),
      };

      emit(0);
      if (!options.manualDelay) await ctx.delay();
      const starts = index === 0 && (state.ignoreAbortMs ?? 0) > 0 ? { ignoreAbortStarts: await workIgnoringAbort(state, config) } : {};
      failIfAsked(state, name, config);
      failForGoodIfAsked(state, name);
      const update = await work(state, ctx);
      const history = index === order.length - 1 && (state.resultBytes ?? 0) > 0 ? { longHistory: longHistory(state.resultBytes!) } : {};
      const echo = index === 0 && state.echoConfig ? { seenConfig: seenConfig(config) } : {};
      const counts = state.instrument ? { nodeRuns: { [name]: 1 }, stepTimes: { [name]: { startedAtMs, endedAtMs: Date.now() } } } : {};
      emit(1);
      return { ...update, ...starts, ...history, ...echo, ...counts };
    };
  };
}

/** About `bytes` bytes of JSON: 1,000-character messages (1,001 bytes in UTF-8, 1,004 as JSON), numbered. */
function longHistory(bytes: number): string[] {
  const messages: string[] = [];
  for (let size = 0; size < bytes; size += 1004) messages.push(`message ${messages.length} é `.padEnd(1000, "lorem ipsum "));
  return messages;
}

/** FNV-1a over the JSON form: a short deterministic fingerprint of any input. */
export function fingerprint(value: unknown): string {
  let hash = 0x811c9dc5;
  for (const char of JSON.stringify(value) ?? "undefined") {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}
