/**
 * Fuzzing the HTTP endpoint of the real Worker with fast-check: arbitrary and malformed JSON,
 * wrong types, huge strings and arrays, deep nesting, unicode and lone surrogates, keys such
 * as __proto__, missing and extra fields, wrong methods, paths, content types and credentials.
 *
 * For every request: no 5xx; the response is the JSON envelope, an error carrying a known code
 * with its own status; and both queues' SQLite is row for row what it was before the run.
 * The fuzz never means to change anything: a job enqueued here would run in the background
 * and change the records under the comparisons that follow. So a generated enqueue that passes
 * validation names a job that already exists (200 for the same body, 409 otherwise), and the
 * values of arbitrary JSON never include "enqueue" or a job type.
 *
 * VITE_FUZZ_RUNS=100000 runs a soak (vitest passes VITE_* variables into workerd); on failure
 * fast-check prints the seed and path, which VITE_FUZZ_SEED and VITE_FUZZ_PATH replay.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_STATUS, type ErrorCode } from "../../src/http/errors";
import { call, ENDPOINT } from "./http";

// Read at run time from process.env: import.meta.env is fixed when vitest transforms the file,
// and its module cache would keep a soak's figures for the runs after it.
const fuzzEnv = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
/** Requests per property: the file takes 10-15 s on 2 busy cores. */
const BODY_RUNS = Number(fuzzEnv.VITE_FUZZ_RUNS) || 2500;
const REQUEST_RUNS = Number(fuzzEnv.VITE_FUZZ_RUNS) || 1000;
/** Generous: a soak's requests take ~3 ms each. */
const timeoutFor = (runs: number) => 30_000 + runs * 20;
const replay = { seed: fuzzEnv.VITE_FUZZ_SEED ? Number(fuzzEnv.VITE_FUZZ_SEED) : undefined, path: fuzzEnv.VITE_FUZZ_PATH };

const QUEUES = ["langgraph-queue", "reports"];
const KEY = "test-key-1";
/** The jobs that exist: one per queue, ended, so nothing about them changes during the run. */
const EXISTING_ID = "fuzz_existing";
const EXISTING_PAYLOAD = JSON.parse('{"__proto__":{"a":1},"constructor":"c","text":"무선 \\ud800"}');
const EXISTING_PAYLOAD_TEXT = JSON.stringify(EXISTING_PAYLOAD);

// ─── Generators. Each produces JSON text, so that it can hold what a JS object cannot (a
// duplicate key, `1e400`, `-0`) and so that `__proto__` is always an ordinary key. ───────────

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const anyChar = fc.oneof({ arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), weight: 4 }, loneSurrogate);
const text = fc.string({ unit: anyChar, maxLength: 12 });

const FIELDS = ["action", "job", "queueName", "jobId", "status", "limit", "cursor", "id", "type", "payload", "priority", "maxRetries"];
const ODD_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", ""];
const key = fc.oneof(fc.constantFrom(...FIELDS, ...ODD_KEYS), text);
// Never "enqueue" nor a job type: see the header.
const WORDS = ["stats", "list", "status", "cancel", "history", ...QUEUES, EXISTING_ID, "queued", "completed", "dispatched",
  "high", "medium", "low", "12:3", ...ODD_KEYS];

const quote = (value: string) => JSON.stringify(value);
const objectText = (entries: [string, string][]) => `{${entries.map(([k, v]) => `${quote(k)}:${v}`).join(",")}}`;

const scalar = fc.oneof(
  fc.constantFrom("null", "true", "false", "0", "-0", "1", "-1", "101", "1.5", "1e400", "-1e400", "1e20", "0.1e-5"),
  fc.integer().map(String),
  fc.double().map((n) => JSON.stringify(n)),
  fc.constantFrom(...WORDS).map(quote),
  text.map(quote),
);
/** Large values, mostly near the 64 KiB body limit, some over it. */
const huge = fc.oneof(
  fc.tuple(fc.constantFrom("x", "é", "😀", "\ud800", "\\", '"'), fc.integer({ min: 1_000, max: 40_000 })).map(([c, n]) => quote(c.repeat(n))),
  fc.integer({ min: 1_000, max: 35_000 }).map((n) => `[${Array(n).fill("0").join(",")}]`),
  fc.integer({ min: 60, max: 20_000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
  fc.integer({ min: 60, max: 8_000 }).map((n) => '{"a":'.repeat(n) + "1" + "}".repeat(n)),
);
const { value: jsonValue, object: jsonObject } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { arbitrary: scalar, weight: 6 },
    { arbitrary: tie("array"), weight: 2 },
    { arbitrary: tie("object"), weight: 2 },
    { arbitrary: huge, weight: 1 },
  ),
  array: fc.array(tie("value"), { maxLength: 4 }).map((items) => `[${items.join(",")}]`),
  object: fc.array(fc.tuple(key, tie("value")), { maxLength: 5 }).map(objectText),
}));

/**
 * A field that is sometimes absent, sometimes wrong, mostly well-formed: so that a good share
 * of requests gets past the first field and a wrong value deeper down is what they test.
 */
const field = (name: string, good: fc.Arbitrary<string>, bad: fc.Arbitrary<string>) =>
  fc.option(fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: bad, weight: 1 }, { arbitrary: jsonValue, weight: 1 }), { freq: 8 })
    .map((v): [string, string][] => (v === null ? [] : [[name, v]]));

const goodQueue = fc.constantFrom(...QUEUES).map(quote);
const badString = fc.oneof(fc.constantFrom("", "a b", "x".repeat(129), "q".repeat(65), "nope", "__proto__").map(quote), text.map(quote));
const ids = fc.constantFrom(EXISTING_ID, "never-enqueued", "constructor", "__proto__").map(quote);
/** Ids that fail validation, never a fresh valid one: a fresh id with a valid job would create it. */
const badId = fc.oneof(fc.constantFrom("", "a b", "x".repeat(129), "a/b").map(quote), scalar.filter((s) => !s.startsWith('"')),
  fc.tuple(text, fc.constantFrom(" ", "/", "é", "\ud800"), text).map(([a, c, b]) => quote(a + c + b)));

const job = fc.tuple(
  fc.oneof(fc.constant(quote(EXISTING_ID)), badId),
  field("type", fc.constantFrom("data_sync", "data_sync", "research_workflow", "content_generation", "batch_processing").map(quote),
    fc.constantFrom("Research_Workflow", "mining", "").map(quote)),
  field("payload", fc.oneof(fc.constant(EXISTING_PAYLOAD_TEXT), jsonObject), fc.oneof(huge, fc.constantFrom("[]", "null", '"{}"'))),
  field("priority", fc.constantFrom("high", "medium", "low").map(quote), badString),
  field("maxRetries", fc.integer({ min: 0, max: 10 }).map(String), fc.constantFrom("-1", "11", "1.5", '"3"', "1e400")),
  // Extra keys; never "id", which would replace the id.
  fc.array(fc.tuple(key.filter((k) => k !== "id"), jsonValue), { maxLength: 2 }),
  // The id twice (the last one counts), so that a splice into one "id" key leaves the other.
).map(([id, ...fields]) => objectText([["id", id], ...fields.flat(), ["id", id]]));

/** A request body shaped like one of the six actions, with some fields wrong, missing or extra. */
const actionBody = fc.tuple(
  fc.oneof(
    { arbitrary: fc.constant(quote("enqueue")), weight: 3 }, // the action with the most to validate
    { arbitrary: fc.constantFrom("status", "stats", "cancel", "list", "history").map(quote), weight: 5 },
    { arbitrary: jsonValue, weight: 1 },
  ),
  field("queueName", goodQueue, badString),
  field("job", job, jsonValue),
  field("jobId", ids, badId),
  field("status", fc.constantFrom("queued", "running", "completed", "failed", "cancelled").map(quote),
    fc.constantFrom("delayed", "dispatched", "QUEUED").map(quote)),
  field("limit", fc.integer({ min: 1, max: 100 }).map(String), fc.constantFrom("0", "101", "-1", "2.5", '"10"', "1e400")),
  field("cursor", fc.constantFrom("0", "7", "99:3", "999999999999999:999999999999999").map(quote),
    fc.constantFrom("", "x:y", "1:2:3", "1".repeat(16), "-1").map(quote)),
  fc.array(fc.tuple(key, jsonValue), { maxLength: 2 }),
).map(([action, ...fields]) => objectText([["action", action], ...fields.flat()]));

/** Bytes that are not JSON: truncated, spliced or plain junk. */
const brokenBody = fc.oneof(
  fc.tuple(actionBody, fc.nat()).map(([body, cut]) => body.slice(0, cut % Math.max(1, body.length))),
  // Characters that are never valid in an id, so a splice cannot turn the existing id into a fresh one.
  fc.tuple(actionBody, fc.nat(), fc.constantFrom("{", "}", ",", '"', "\\", "\u0000", "\ud800", " /"))
    .map(([body, at, junk]) => body.slice(0, at % (body.length + 1)) + junk + body.slice(at % (body.length + 1))),
  fc.string({ unit: anyChar, maxLength: 40 }),
  fc.constantFrom("", " ", "null", "[]", "{}", '{"action":"stats"', "\ufeff{}", "{'action':'stats'}"),
);

const body = fc.oneof(
  { arbitrary: actionBody, weight: 6 },
  { arbitrary: jsonValue, weight: 2 },
  { arbitrary: brokenBody, weight: 2 },
);

// ─── Checks ───────────────────────────────────────────────────────────────────────────────────

/** Every row of every table of a queue's coordinator, sqlite_sequence included (the runtime's own are closed). */
const snapshot = (queueName: string) =>
  runInDurableObject(env.QUEUE_COORDINATOR.getByName(queueName), (_, state) => {
    const tables = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 4) <> '_cf_' ORDER BY name").toArray();
    return JSON.stringify(tables.map(({ name }) => [name, [...state.storage.sql.exec(`SELECT * FROM "${name}"`).raw()]]));
  });
const snapshots = () => Promise.all(QUEUES.map(snapshot));

let baseline: string[] = [];
let tried = 0;

/** The response is the envelope, an error has a known code and that code's status, no 5xx. */
async function expectEnvelope(response: Response, what: string) {
  tried++;
  expect(response.status, what).toBeLessThan(500);
  expect(response.status, `${what}: the fuzz must not create a job`).not.toBe(201);
  expect(response.headers.get("content-type"), what).toMatch(/^application\/json/);
  const envelope = (await response.json()) as { success: unknown; code?: string; error?: string };
  if (envelope.success === true) {
    expect(response.status, what).toBe(200);
    expect(envelope, what).toHaveProperty("data");
  } else {
    expect(envelope, what).toMatchObject({ success: false, error: expect.any(String), code: expect.any(String) });
    expect(Object.keys(ERROR_STATUS), what).toContain(envelope.code);
    expect(response.status, what).toBe(ERROR_STATUS[envelope.code as ErrorCode]);
    expect(envelope.error, what).not.toMatch(/\.ts:\d+|\n\s+at /);
  }
}

async function expectQueuesUntouched(what: string) {
  const before = baseline;
  // Once a change is seen, the next inputs (fast-check's shrinking) are compared with the new state.
  baseline = await snapshots();
  expect(baseline, `${what}: a queue's records changed`).toEqual(before);
}

const describeBody = (text: string) => `body ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text)}`;

describe("fuzzing POST /functions/v1/queue-worker", () => {
  beforeAll(async () => {
    for (const queueName of QUEUES) {
      const created = await call({ action: "enqueue", queueName, job: { id: EXISTING_ID, type: "data_sync", payload: EXISTING_PAYLOAD } });
      expect(created.status).toBe(201);
    }
    // Wait until both jobs have completed and their last reports have landed: from then on nothing changes by itself.
    let previous: string[] = [];
    const completed = async () =>
      (await Promise.all(QUEUES.map((queueName) => call({ action: "status", queueName, jobId: EXISTING_ID }))))
        .every(({ body }) => body.data?.status === "completed");
    for (let tries = 0; !(await completed()) || JSON.stringify(baseline) !== JSON.stringify(previous); tries++) {
      expect(tries, "the queues never settled").toBeLessThan(50);
      previous = baseline;
      await new Promise((resolve) => setTimeout(resolve, 100));
      baseline = await snapshots();
    }
  });

  it(`never answers 5xx, always the envelope, and changes nothing: ${BODY_RUNS} bodies`, { timeout: timeoutFor(BODY_RUNS) }, async () => {
    const start = tried;
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const response = await exports.default.fetch(ENDPOINT, {
          method: "POST",
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
          body: text,
        });
        await expectEnvelope(response, describeBody(text));
        await expectQueuesUntouched(describeBody(text));
      }),
      { numRuns: BODY_RUNS, ...replay },
    );
    expect(tried - start).toBeGreaterThanOrEqual(BODY_RUNS);
  });

  const request = fc.record({
    method: fc.constantFrom("POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
    path: fc.oneof(
      { arbitrary: fc.constant("/functions/v1/queue-worker"), weight: 4 },
      fc.constantFrom("/functions/v1/queue-worker/", "/functions/v1/Queue-Worker", "/functions/v1/queue-worker/x", "/functions/v1",
        "/", "/health", "/%E0%A4%A", "/functions/v1/queue%2Dworker", "//functions/v1/queue-worker", "/__proto__", "/constructor"),
      fc.webPath(),
      text.map((t) => `/${t}`),
    ),
    query: fc.constantFrom("", "?action=stats", "?__proto__[x]=1", "?%ff"),
    contentType: fc.constantFrom(undefined, "application/json", "text/plain", "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x", "application/json; charset=utf-16", "application/octet-stream", ";;", ""),
    credentials: fc.constantFrom<Record<string, string>>(
      {}, { authorization: `Bearer ${KEY}` }, { apikey: KEY }, { authorization: "Bearer wrong" }, { apikey: "" },
      { authorization: `Basic ${KEY}` }, { authorization: "Bearer " }, { authorization: `Bearer ${"k".repeat(8_000)}` },
      { authorization: `bearer ${KEY}`, apikey: "wrong" },
    ),
    origin: fc.constantFrom(undefined, "https://app.example.com", "null"),
    body,
    encoding: fc.constantFrom("text", "text", "invalid-utf8", "stream"),
  });

  it(`answers any method, path, content type and credentials the same way: ${REQUEST_RUNS} requests`, { timeout: timeoutFor(REQUEST_RUNS) }, async () => {
    const start = tried;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = { ...r.credentials };
        if (r.contentType !== undefined) headers["content-type"] = r.contentType;
        if (r.origin !== undefined) headers.origin = r.origin;
        const hasBody = r.method !== "GET" && r.method !== "HEAD";
        const bytes = new TextEncoder().encode(r.body);
        const payload = !hasBody ? undefined
          : r.encoding === "text" ? r.body
          : r.encoding === "invalid-utf8" ? new Uint8Array([0xff, 0xfe, ...bytes.slice(0, 100), 0xc0, 0x80])
          : new Blob([bytes]).stream(); // No Content-Length: the body limit is enforced while reading.
        const url = new URL(`https://queue.test${r.path}${r.query}`);
        const what = `${r.method} ${url} ${JSON.stringify(headers).slice(0, 300)} ${r.encoding} ${describeBody(r.body)}`;
        const response = await exports.default.fetch(url, { method: r.method, headers, body: payload });

        const isEndpoint = url.pathname === "/functions/v1/queue-worker";
        if (r.method === "HEAD" || (r.method === "OPTIONS" && response.status === 204)) {
          // HEAD has no body; a 204 to OPTIONS is the CORS preflight, always answered on the endpoint.
          tried++;
          expect(response.status, what).toBeLessThan(500);
          expect(await response.text(), what).toBe("");
        } else {
          expect(r.method === "OPTIONS" && isEndpoint, `${what}: no preflight answer`).toBe(false);
          await expectEnvelope(response, what);
          // Credentials are checked before the body is read as JSON: a wrong key is a 401, not a 400.
          const rightKey = headers.apikey === KEY || /^bearer\s+test-key-1$/i.test(headers.authorization ?? "");
          if (isEndpoint && r.method === "POST" && !rightKey && response.status !== 413) expect(response.status, what).toBe(401);
        }
        await expectQueuesUntouched(what);
      }),
      { numRuns: REQUEST_RUNS, ...replay },
    );
    expect(tried - start).toBeGreaterThanOrEqual(REQUEST_RUNS);
  });
});
