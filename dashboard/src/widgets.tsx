/** Small pieces every panel uses: a job's status badge, its progress bar, a live notice. */
import type { ComponentChildren } from "preact";
import type { JobStatus } from "../../src/client/index";

export function StatusBadge({ status }: { status: JobStatus }) {
  return <span class={`badge status-${status}`} data-status={status}>{status}</span>;
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const percent = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div class="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
      <div class="progress-fill" style={{ width: `${percent}%` }} />
      <span class="progress-text">{percent}%</span>
    </div>
  );
}

export type Notice = { kind: "ok" | "error"; text: string } | null;

/** A polite live region: screen readers hear what an action did without moving focus. */
export function NoticeLine({ notice }: { notice: Notice }) {
  return (
    <p class={`notice ${notice ? `notice-${notice.kind}` : ""}`} role="status" aria-live="polite">
      {notice?.text ?? ""}
    </p>
  );
}

export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
