/**
 * Every input limit of the endpoint: just inside it is accepted, just past it is refused with
 * its own code and a message that names the limit; and a payload comes back exactly as sent.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, MAX_PAYLOAD_BYTES, MAX_PAYLOAD_DEPTH } from "../../src/http/api-schema";
import { AUTH, call, ENDPOINT, uniqueId, waitForStatus } from "./http";

const enqueue = (job: Record<string, unknown>, queueName?: string) =>
  ({ action: "enqueue", queueName, job: { type: "data_sync", payload: {}, ...job } });

/** A payload `levels` deep: the payload object, then arrays inside it. */
const nestedPayload = (levels: number) => JSON.parse(`{"a":${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}}`);

describe("limits", () => {
  // [what, body, status, code, what the message must say, the path]
  const refused: [string, unknown, number, string, RegExp, string?][] = [
    ["a job id of 129 characters", enqueue({ id: "a".repeat(129) }), 400, "INVALID_REQUEST", /1-128 characters/, "job.id"],
    ["a job id with a space", enqueue({ id: "a b" }), 400, "INVALID_REQUEST", /1-128 characters of A-Z a-z 0-9 _ \. : -/, "job.id"],
    ["a status jobId of 129 characters", { action: "status", jobId: "a".repeat(129) }, 400, "INVALID_REQUEST", /1-128 characters/, "jobId"],
    ["an empty jobId", { action: "history", jobId: "" }, 400, "INVALID_REQUEST", /1-128 characters/, "jobId"],
    ["a queueName of 65 characters", { action: "stats", queueName: "q".repeat(65) }, 400, "INVALID_REQUEST", /1-64 characters/, "queueName"],
    ["an empty queueName", { action: "stats", queueName: "" }, 400, "INVALID_REQUEST", /1-64 characters/, "queueName"],
    ["a payload one level too deep", enqueue({ payload: nestedPayload(MAX_PAYLOAD_DEPTH + 1) }), 400, "INVALID_REQUEST", /deeper than 64 levels/, "job.payload"],
    ["a payload that is an array", enqueue({ payload: [] }), 400, "INVALID_REQUEST", /JSON object/, "job.payload"],
    ["a type of 60,000 characters", enqueue({ type: "t".repeat(60_000) }), 400, "INVALID_JOB_TYPE", /research_workflow.*data_sync/, "job.type"],
    ["a cursor of 32 characters", { action: "list", cursor: "1".repeat(16) + ":" + "1".repeat(15) }, 400, "INVALID_REQUEST", /at most 31 characters/, "cursor"],
    ["a status that is internal", { action: "list", status: "dispatched" }, 400, "INVALID_REQUEST", /queued.*cancelled/, "status"],
    ["a limit of 101", { action: "list", limit: 101 }, 400, "INVALID_REQUEST", /<=100/, "limit"],
    ["maxRetries of 11", enqueue({ maxRetries: 11 }), 400, "INVALID_REQUEST", /<=10/, "job.maxRetries"],
    ["an unknown action", { action: "x".repeat(10_000) }, 400, "INVALID_REQUEST", /'enqueue' \| 'enqueueBatch' \| 'status'/, "action"],
    ["a body over 64 KiB", enqueue({ payload: { blob: "x".repeat(MAX_BODY_BYTES) } }), 413, "PAYLOAD_TOO_LARGE", /65536 byte limit/],
    // Under the body limit as sent, four times over it as stored: 1e20 is written out as 21 digits.
    ["a payload over 64 KiB as stored", `{"action":"enqueue","job":{"type":"data_sync","payload":{"n":[${Array(12_000).fill("1e20").join(",")}]}}}`,
      413, "PAYLOAD_TOO_LARGE", /job\.payload is \d+ bytes as JSON, over the 65536 byte limit/],
  ];

  it.each(refused)("refuses %s", async (_what, body, status, code, message, path) => {
    const response = await call(body);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ success: false, code });
    expect(response.body.error).toMatch(message);
    // The message names the limit; it does not echo a huge input back.
    expect(response.body.error!.length).toBeLessThan(500);
    if (path) expect(response.body.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it("counts a streamed body that announces no length as it reads it: 64 KiB passes, one byte more is refused", async () => {
    const stream = (...sizes: number[]) =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          const size = sizes.shift();
          if (size === undefined) controller.close();
          else controller.enqueue(new Uint8Array(size).fill(0x20)); // spaces: not JSON, but only the size matters
        },
      });
    const send = async (body: ReadableStream<Uint8Array>) => {
      const response = await exports.default.fetch(ENDPOINT, { method: "POST", headers: AUTH, body });
      return { status: response.status, body: (await response.json()) as { code: string } };
    };
    const chunks = Array<number>(MAX_BODY_BYTES / 16_384).fill(16_384);
    expect(await send(stream(...chunks))).toMatchObject({ status: 400, body: { code: "INVALID_REQUEST" } });
    // The byte over the limit comes last, alone: the Worker stops reading there, and nothing is
    // left in flight for the runtime to report as an aborted pipe.
    expect(await send(stream(...chunks, 1))).toMatchObject({ status: 413, body: { code: "PAYLOAD_TOO_LARGE" } });
  });

  it("accepts each limit's largest value", async () => {
    const id = "i".repeat(127) + ".";
    const accepted = await call(enqueue({ id, payload: nestedPayload(MAX_PAYLOAD_DEPTH), maxRetries: 10 }, "reports"));
    expect(accepted.status).toBe(201);
    expect((await call({ action: "list", queueName: "reports", limit: 100, cursor: "9".repeat(15) + ":" + "9".repeat(15) })).status).toBe(200);
    expect((await waitForStatus(id, ["completed", "failed"], "reports")).status).toBe("completed");
  });

  it("accepts a payload of exactly 64 KiB as stored, and refuses one byte more", async () => {
    // Sent as `1e20`, stored as 21 digits: the payload outgrows the body that carried it.
    const payloadText = (pad: number) => `{"n":[${Array(2000).fill("1e20").join(",")}],"s":"${"x".repeat(pad)}"}`;
    const pad = MAX_PAYLOAD_BYTES - JSON.stringify(JSON.parse(payloadText(0))).length;
    const body = (id: string, pad: number) =>
      `{"action":"enqueue","queueName":"reports","job":{"id":"${id}","type":"data_sync","payload":${payloadText(pad)}}}`;
    expect(body("x", pad + 1).length).toBeLessThan(MAX_BODY_BYTES);

    const id = uniqueId("exact");
    expect((await call(body(id, pad))).status).toBe(201);
    const tooLarge = await call(body(uniqueId("over"), pad + 1));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error).toBe(`job.payload is ${MAX_PAYLOAD_BYTES + 1} bytes as JSON, over the ${MAX_PAYLOAD_BYTES} byte limit`);
    const done = await waitForStatus(id, ["completed", "failed"], "reports");
    expect(JSON.stringify(done.result.input).length).toBe(MAX_PAYLOAD_BYTES);
  });
});

describe("a payload is stored and returned exactly as sent", () => {
  // JSON.parse makes `__proto__` an own key like any other; assigning it (as a schema that
  // copies key by key does) would set the object's prototype instead, and the key would vanish.
  const payload = JSON.parse(`{
    "__proto__": {"polluted": true},
    "constructor": {"prototype": {"polluted": true}},
    "prototype": "p",
    "nested": {"__proto__": [1, 2], "toString": "s"},
    "text": "무선 이어폰 \\ud800 \\u0000 😀"
  }`);

  it("keeps keys named __proto__, constructor and prototype through enqueue → LangGraph → status", async () => {
    const id = uniqueId("proto");
    expect(Object.keys(payload)).toContain("__proto__");
    expect((await call({ action: "enqueue", job: { id, type: "data_sync", payload } })).status).toBe(201);

    // The workflows test server echoes the input it was sent as the job's result.
    const done = await waitForStatus(id, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect(JSON.stringify(done.result.input)).toBe(JSON.stringify(payload));
    expect(Object.hasOwn(done.result.input, "__proto__")).toBe(true);
    expect(Object.hasOwn(done.result.input.nested, "__proto__")).toBe(true);
    // …and nothing in this isolate (router, coordinator, consumer) had its prototypes polluted.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("counts a __proto__ key in the idempotency check like any other key", async () => {
    const id = uniqueId("proto_idem");
    const job = (body: unknown) => ({ action: "enqueue", queueName: "reports", job: { id, type: "data_sync", payload: body } });
    expect((await call(job(payload))).status).toBe(201);
    // The same body again is the same job…
    expect((await call(job(payload))).status).toBe(200);
    // …but one that differs only in its __proto__ key is another job.
    const other = JSON.parse(JSON.stringify(payload).replace('"polluted":true', '"polluted":false'));
    expect(JSON.stringify(other)).not.toBe(JSON.stringify(payload));
    const conflict = await call(job(other));
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe("JOB_ID_CONFLICT");
  });
});
