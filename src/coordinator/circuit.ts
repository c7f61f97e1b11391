/**
 * The queue's circuit breaker for LangGraph: an unreachable LangGraph is not the jobs' fault.
 * When an attempt finds LangGraph unreachable (no HTTP answer), the circuit opens and the queue
 * stops dispatching; after a probe delay (1 s, doubling per failed probe up to 15 s) it goes
 * half-open and one job is dispatched as the probe, preferring one that has not met the
 * outage (a job whose own requests never get through must not be the probe every time). Any
 * sign that LangGraph answers (a run created, a job completed, an attempt that failed with an
 * answer) closes it. Pure functions of the circuit and `now`; the coordinator keeps the circuit
 * in its storage.
 */

export type CircuitState = "closed" | "open" | "half_open";

export interface Circuit {
  state: CircuitState;
  /** When LangGraph was first found unreachable in this outage. */
  openedAtMs: number | null;
  /** While open: when the probe is due. */
  probeAtMs: number | null;
  /** The delay that led to the current probe; it doubles with each failed probe. */
  probeDelayMs: number;
  /** While half-open: the attempt dispatched as the probe. */
  probe: { jobId: string; attempt: number } | null;
  /** When the circuit last closed: LangGraph answered after an outage. */
  closedAtMs: number | null;
}

export const PROBE_FIRST_MS = 1000;
export const PROBE_MAX_MS = 15_000;

export const CLOSED: Circuit = { state: "closed", openedAtMs: null, probeAtMs: null, probeDelayMs: 0, probe: null, closedAtMs: null };

/** An attempt found LangGraph unreachable. */
export function tripped(circuit: Circuit, now: number): Circuit {
  if (circuit.state === "open") return circuit;
  const probeDelayMs = circuit.state === "half_open" ? Math.min(circuit.probeDelayMs * 2, PROBE_MAX_MS) : PROBE_FIRST_MS;
  return { ...circuit, state: "open", openedAtMs: circuit.openedAtMs ?? now, probeAtMs: now + probeDelayMs, probeDelayMs, probe: null };
}

/** LangGraph answered. */
export const answered = (circuit: Circuit, now: number): Circuit => (circuit.state === "closed" ? circuit : { ...CLOSED, closedAtMs: now });

/**
 * A job's attempts keep finding LangGraph unreachable, though it answered since they began to:
 * the trouble is the job's own (its requests are dropped or reset), and it spends its retries.
 */
export const answeredSince = (circuit: Circuit, outageSinceMs: number | null): boolean =>
  outageSinceMs !== null && circuit.closedAtMs !== null && circuit.closedAtMs > outageSinceMs;

/** The probe delay passed: let one job through. */
export function probeDue(circuit: Circuit, now: number): Circuit {
  return circuit.state === "open" && circuit.probeAtMs !== null && circuit.probeAtMs <= now
    ? { ...circuit, state: "half_open", probeAtMs: null }
    : circuit;
}

/** How many of `free` slots may be filled: all when closed, none when open, one probe when half-open. */
export function dispatchable(circuit: Circuit, free: number, probeInFlight: boolean): number {
  if (circuit.state === "closed") return free;
  if (circuit.state === "open" || probeInFlight) return 0;
  return Math.min(free, 1);
}
