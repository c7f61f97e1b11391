/**
 * Where a completed job's result (the run's final state, as JSON) is kept. Up to
 * ROW_RESULT_BYTES in the job's row, as always; larger, up to MAX_KEPT_RESULT_BYTES, in the
 * RESULTS R2 bucket, the row keeping the object's key in `result_ref` (a Durable Object's SQLite
 * row holds at most 2 MB); past that, nowhere: the job still completes, and `result_ref` says
 * why the result was not kept, so that `status` can point at the LangGraph thread that holds the
 * final state. MAX_KEPT_RESULT_BYTES stays under the 32 MiB a Workers RPC call carries, which is
 * what a report of the result to the coordinator must fit in.
 *
 * R2 calls are asynchronous and the coordinator's store transactions synchronous, so an object is
 * written before the transaction that records it; if that transaction refuses the report (the
 * attempt is no longer current), the object is deleted again. Each write has a key of its own, so
 * deleting a refused report's object never touches the one a concurrent report recorded.
 */
import { log } from "../log";
import { withRetries } from "../rpc";
import type { JobRow } from "./job-store";
import { isUnkeptResult, MAX_KEPT_RESULT_BYTES, MAX_RESULT_BYTES } from "./protocol";

/** The most a job's row holds of its result. */
export const ROW_RESULT_BYTES = MAX_RESULT_BYTES;

/** What a completed job's row says of its result: the JSON, an object key, or why it was not kept. */
export type KeptResult = Pick<JobRow, "result" | "result_ref">;

const OBJECT_PREFIX = "results/";
const NOT_KEPT = "none:";

/** The bucket key `result_ref` names, if the result is in the bucket. */
export const objectKey = (ref: string | null): string | null => (ref?.startsWith(OBJECT_PREFIX) ? ref : null);
/** Why the result was not kept, if it was not. */
export const notKeptReason = (ref: string | null): string | null => (ref?.startsWith(NOT_KEPT) ? ref.slice(NOT_KEPT.length) : null);

export class ResultStore {
  constructor(
    private readonly bucket: () => R2Bucket,
    private readonly queueName: string,
  ) {}

  /**
   * Keeps a result about to be recorded for `attempt` of `jobId`: in the row if it fits, else
   * written to the bucket now. A result past the limit, or one the bucket would not take, is not
   * kept: the job completes all the same.
   */
  async keep(jobId: string, attempt: number, result: unknown): Promise<KeptResult> {
    // Measured by the LangGraph client, which did not send it: it would not fit in the call.
    if (isUnkeptResult(result)) return this.notKeptForSize(jobId, attempt, result.unkeptResultBytes);
    const resultJson = JSON.stringify(result ?? null);
    // A UTF-16 code unit is at most 3 bytes of UTF-8: most results need no counting.
    if (resultJson.length * 3 <= ROW_RESULT_BYTES) return { result: resultJson, result_ref: null };
    const bytes = new TextEncoder().encode(resultJson);
    if (bytes.byteLength <= ROW_RESULT_BYTES) return { result: resultJson, result_ref: null };
    const fields = { queue: this.queueName, jobId, attempt, bytes: bytes.byteLength };
    if (bytes.byteLength > MAX_KEPT_RESULT_BYTES) return this.notKeptForSize(jobId, attempt, bytes.byteLength);
    const key = `${OBJECT_PREFIX}${encodeURIComponent(this.queueName)}/${jobId}/${attempt}-${crypto.randomUUID()}.json`;
    try {
      await withRetries(() => this.bucket().put(key, bytes, { httpMetadata: { contentType: "application/json" } }));
      return { result: null, result_ref: key };
    } catch (error) {
      log({ event: "result_not_kept", ...fields, error: String(error) }, "error");
      return notKept(`the result (${bytes.byteLength} bytes) could not be stored: ${String(error).slice(0, 200)}`);
    }
  }

  private notKeptForSize(jobId: string, attempt: number, bytes: number): KeptResult {
    log({ event: "result_not_kept", queue: this.queueName, jobId, attempt, bytes, limit: MAX_KEPT_RESULT_BYTES }, "warn");
    return notKept(`the result is ${bytes} bytes, over the ${MAX_KEPT_RESULT_BYTES} bytes kept`);
  }

  /** The report that brought `kept` was refused: its object, if it wrote one, is nobody's. */
  async discard(kept: KeptResult): Promise<void> {
    const key = objectKey(kept.result_ref);
    if (key) await this.delete([key], "result_discard_failed");
  }

  /** Deletes the objects of records that were deleted (their retention ended). */
  async deleteWith(records: Pick<JobRow, "result_ref">[]): Promise<void> {
    const keys = records.map((record) => objectKey(record.result_ref)).filter((key) => key !== null);
    // R2 deletes at most 1,000 keys a call.
    for (let i = 0; i < keys.length; i += 1000) await this.delete(keys.slice(i, i + 1000), "result_delete_failed");
  }

  /**
   * A delete that still fails after a few tries is logged, with its keys, and left: the object is
   * an orphan no record names (a lifecycle rule on the bucket's `results/` prefix removes those).
   */
  private async delete(keys: string[], event: string): Promise<void> {
    try {
      await withRetries(() => this.bucket().delete(keys));
    } catch (error) {
      log({ event, queue: this.queueName, keys, error: String(error) }, "error");
    }
  }
}

const notKept = (reason: string): KeptResult => ({ result: null, result_ref: `${NOT_KEPT}${reason}` });
