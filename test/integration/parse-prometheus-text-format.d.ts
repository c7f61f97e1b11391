/** Types for parse-prometheus-text-format (it ships none): what test/integration/metrics.test.ts reads of its output. */
declare module "parse-prometheus-text-format" {
  interface Sample {
    labels?: Record<string, string>;
    /** Counters, gauges and untyped samples: the value as written. */
    value?: string;
    /** Histograms: each bucket's cumulative count by its `le`, and the sum and count. */
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  interface MetricFamily {
    name: string;
    help: string;
    type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    metrics: Sample[];
  }
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
