/**
 * A queue's last hour, minute by minute (the `throughput` action): jobs completed and failed as
 * bars (left axis), average wait and processing time as lines (seconds, right axis). Drawn with
 * uPlot, a small maintained canvas chart; a sentence under it says the same in words, for screen
 * readers and for anyone who prefers numbers.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { QueueWorkerClient } from "../../src/client/index";
import { describeError, throughput, type ThroughputMinute } from "./api";
import { duration } from "./format";

/** The series is per minute: once a minute is enough, plus a refresh shortly after jobs end. */
const REFRESH_MS = 60_000;
const AFTER_CHANGE_MS = 3_000;

export function ThroughputChart({ client, queueName, endedJobs }: { client: QueueWorkerClient; queueName: string; endedJobs: number }) {
  const [minutes, setMinutes] = useState<ThroughputMinute[] | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  // Jobs ending move the last minute's bars: fetch again a moment later (once for a burst).
  useEffect(() => {
    if (endedJobs === 0) return;
    const timer = setTimeout(() => setTick((t) => t + 1), AFTER_CHANGE_MS);
    return () => clearTimeout(timer);
  }, [endedJobs]);
  useEffect(() => {
    let current = true;
    throughput(client, queueName).then(
      (series) => current && (setMinutes(series), setError(null)),
      (failure: unknown) => current && setError(describeError(failure)),
    );
    return () => void (current = false);
  }, [client, queueName, tick]);

  const summaryId = `throughput-summary-${queueName}`;
  return (
    <figure class="chart" aria-describedby={summaryId}>
      <figcaption>Last hour, per minute</figcaption>
      {minutes ? <Plot minutes={minutes} label={`Throughput and wait time of ${queueName} over the last hour`} /> : null}
      <p class="chart-summary" id={summaryId} data-testid="throughput-summary">
        {error ?? (minutes === undefined ? "Loading…" : summarize(minutes))}
      </p>
    </figure>
  );
}

function summarize(minutes: ThroughputMinute[]): string {
  const completed = minutes.reduce((sum, m) => sum + m.completed, 0);
  const failed = minutes.reduce((sum, m) => sum + m.failed, 0);
  // The series gives each minute's average, not its job count behind it: the mean of the minutes that had one.
  const waits = minutes.flatMap((m) => (m.averageWaitMs === null ? [] : [m.averageWaitMs]));
  const wait = waits.length === 0 ? null : waits.reduce((sum, ms) => sum + ms, 0) / waits.length;
  return `${completed} completed and ${failed} failed in the last hour; average wait ${duration(wait)}.`;
}

/** 14:05, in the browser's time zone. */
const clock = (epochSeconds: number) => new Date(epochSeconds * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });

function Plot({ minutes, label }: { minutes: ThroughputMinute[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data: uPlot.AlignedData = [
    minutes.map((m) => Date.parse(m.at) / 1000),
    minutes.map((m) => m.completed),
    minutes.map((m) => m.failed),
    minutes.map((m) => (m.averageWaitMs === null ? null : m.averageWaitMs / 1000)),
    minutes.map((m) => (m.averageProcessMs === null ? null : m.averageProcessMs / 1000)),
  ];

  useEffect(() => {
    const element = box.current!;
    const bars = uPlot.paths.bars!({ size: [0.45, 12] });
    const seconds = (_: uPlot, values: number[]) => values.map((v) => `${v} s`);
    plot.current = new uPlot(
      {
        width: element.clientWidth || 480,
        height: 180,
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, jobs: { range: (_u, _min, max) => [0, Math.max(1, max)] }, s: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{ space: 70, values: (_u, splits) => splits.map(clock) }, { scale: "jobs", label: "jobs", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] }, { scale: "s", side: 1, label: "seconds", grid: { show: false }, values: seconds }],
        series: [
          {},
          { label: "completed", scale: "jobs", fill: "rgba(22, 163, 74, 0.55)", stroke: "#15803d", paths: bars, points: { show: false } },
          { label: "failed", scale: "jobs", fill: "rgba(220, 38, 38, 0.55)", stroke: "#b91c1c", paths: bars, points: { show: false } },
          { label: "wait (s)", scale: "s", stroke: "#2563eb", width: 2, spanGaps: true },
          { label: "processing (s)", scale: "s", stroke: "#9333ea", width: 2, spanGaps: true, dash: [6, 4] },
        ],
      },
      data,
      element,
    );
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: element.clientWidth, height: 180 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);
  useEffect(() => plot.current?.setData(data), [minutes]);

  return <div class="plot" ref={box} role="img" aria-label={label} />;
}
