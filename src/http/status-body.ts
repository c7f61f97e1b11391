/**
 * The body of a `status` answer. A result kept in the RESULTS bucket (over 1 MiB, see
 * src/coordinator/results.ts) is not in the coordinator's answer, only its object's key: it is
 * streamed from the bucket into the body, after the other fields, never parsed or held whole in
 * memory. The object is the JSON text of the result, so the body is JSON as the client expects.
 */
import type { AppEnv } from "../config";
import { log } from "../log";

export interface StatusData {
  jobId: string;
  result: unknown;
  threadId: string | null;
  resultRef?: string;
  [field: string]: unknown;
}

/** The success envelope for `data`: plain JSON, or a stream of `length` bytes with the kept result streamed in. */
export async function statusBody(env: AppEnv, data: StatusData): Promise<{ body: string | ReadableStream; length?: number }> {
  const { resultRef, result: _, ...rest } = data;
  if (resultRef === undefined) return { body: JSON.stringify({ success: true, data }) };
  const object = await env.RESULTS.get(resultRef);
  if (!object) {
    // Its record names it, so it was written: the record expired between the two reads (its
    // object deleted with it), or someone else deleted it (a lifecycle rule shorter than the retention).
    log({ event: "result_object_missing", jobId: data.jobId, key: resultRef }, "error");
    const resultLocation = { threadId: data.threadId, reason: `the result's object is missing from the bucket: the final state is in LangGraph, GET /threads/${data.threadId}/state` };
    return { body: JSON.stringify({ success: true, data: { ...rest, result: null, resultLocation } }) };
  }
  const encoder = new TextEncoder();
  // {"success":true,"data":{…the other fields…,"result":<the object>}}
  const head = encoder.encode(`${JSON.stringify({ success: true, data: rest }).slice(0, -2)},"result":`);
  const tail = encoder.encode("}}");
  const length = head.byteLength + object.size + tail.byteLength;
  const { readable, writable } = new FixedLengthStream(length);
  void (async () => {
    let writer = writable.getWriter();
    try {
      await writer.write(head);
      writer.releaseLock();
      await object.body.pipeTo(writable, { preventClose: true });
      writer = writable.getWriter();
      await writer.write(tail);
      await writer.close();
    } catch (error) {
      // The client sees a body cut short (and no valid JSON), never a wrong result.
      log({ event: "result_stream_failed", jobId: data.jobId, key: resultRef, error: String(error) }, "error");
      await writer.abort(error).catch(() => {});
    }
  })();
  return { body: readable, length };
}
