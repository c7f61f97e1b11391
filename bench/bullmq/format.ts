/** Medians and Markdown for the report of `npm run bench:bullmq` (both its RPC and its HTTP part). */
export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—");
export const dec = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "—");
export const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? (a / b).toFixed(2) : "—");
export const table = (header: string[], align: string[], body: string[][]) =>
  [header, align, ...body].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
