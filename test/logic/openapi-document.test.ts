/**
 * The OpenAPI document src/http/openapi.ts builds (GET /openapi.json serves it: see
 * test/integration/openapi.test.ts), checked in Node: @seriousme/openapi-schema-validator, an
 * OpenAPI 3.1 validator independent of the generator, reads its meta-schemas from disk, which
 * workerd cannot. Here too: the document covers every action, error code and route, README's
 * examples are valid under it, and the schemas a client imports pull in none of the Worker.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { actionRequest } from "../../src/http/api-schema";
import { ERROR_STATUS, type ErrorCode } from "../../src/http/errors";
import { ENDPOINT_PATH, openApiDocument } from "../../src/http/openapi";
import { documentSchemas, readmeExamples } from "../support/openapi-examples";

const document = JSON.parse(JSON.stringify(openApiDocument()));
const schemaAt = documentSchemas(document);
const endpoint = document.paths[ENDPOINT_PATH].post;
const actions = actionRequest.options.map((option) => option.shape.action.value);
type Responses = Record<string, { content?: Record<string, { schema: unknown }> }>;

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1, its references resolving", async () => {
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe("3.1.0");
  });

  it("is built once and kept", () => {
    expect(openApiDocument()).toBe(openApiDocument());
  });

  it("takes the request as a oneOf over the actions, discriminated by `action`, and names each action's answers", () => {
    const request = document.components.schemas.ActionRequest;
    expect(endpoint.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ActionRequest" });
    expect(request.oneOf).toHaveLength(actions.length);
    expect(request.discriminator.propertyName).toBe("action");
    expect(Object.keys(request.discriminator.mapping)).toEqual(actions);
    expect(Object.keys(endpoint["x-actions"])).toEqual(actions);
    const successes: Responses = endpoint.responses;
    for (const action of actions) {
      const { request: ref, responses } = endpoint["x-actions"][action];
      expect(ref).toEqual({ $ref: request.discriminator.mapping[action] });
      // Each of the action's answers is a component, and one of the alternatives its status documents.
      for (const [status, answer] of Object.entries(responses as Record<string, { $ref: string }>)) {
        expect(document.components.schemas[answer.$ref.split("/").at(-1)!]).toBeDefined();
        expect((successes[status]!.content!["application/json"]!.schema as { oneOf: unknown[] }).oneOf).toContainEqual(answer);
      }
    }
  });

  it("documents every error code at its HTTP status", () => {
    expect(document.components.schemas.ErrorCode.enum).toEqual(Object.keys(ERROR_STATUS));
    expect(document.components.schemas.ErrorCode["x-error-status"]).toEqual(ERROR_STATUS);
    const documented = new Map<string, Set<string>>();
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, { responses: Responses }>>)) {
      for (const [method, operation] of Object.entries(item)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) < 400) continue;
          const [envelope, narrowed] = (response.content!["application/json"]!.schema as { allOf: [unknown, { properties: { code: { enum?: string[]; const?: string } } }] }).allOf;
          expect(envelope).toEqual({ $ref: "#/components/schemas/ErrorResponse" });
          const { enum: codes = [], const: only } = narrowed.properties.code;
          for (const code of only ? [only] : codes) {
            expect(`${code} ${ERROR_STATUS[code as ErrorCode]}`).toBe(`${code} ${status}`);
            documented.set(code, new Set([...(documented.get(code) ?? []), `${method.toUpperCase()} ${path}`]));
          }
        }
      }
    }
    // NOT_FOUND answers the routes the document does not have: the info and ErrorCode say so.
    expect(Object.keys(ERROR_STATUS).filter((code) => !documented.has(code))).toEqual(["NOT_FOUND"]);
    expect(document.info.description).toContain("NOT_FOUND");
    const endpointCodes = new Set(Object.values(endpoint["x-actions"] as Record<string, { errorCodes: string[] }>).flatMap((action) => action.errorCodes));
    expect([...endpointCodes].sort()).toEqual([...documented].filter(([, at]) => at.has(`POST ${ENDPOINT_PATH}`)).map(([code]) => code).sort());
    expect(endpoint.responses["429"].headers["Retry-After"]).toBeDefined();
  });

  it("documents the auth schemes, the open routes, and the live-status streams", () => {
    expect(document.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: "http", scheme: "bearer" }),
      apikey: expect.objectContaining({ type: "apiKey", in: "header", name: "apikey" }),
      apikeyQuery: expect.objectContaining({ type: "apiKey", in: "query", name: "apikey" }),
    });
    expect(document.security).toEqual([{ bearer: [] }, { apikey: [] }]);
    expect(document.paths["/health"].get.security).toEqual([]);
    expect(document.paths["/openapi.json"].get.security).toEqual([]);
    expect(document.paths["/health/ready"].get.security).toBeUndefined();
    expect(Object.keys(document.paths["/health/ready"].get.responses)).toEqual(["200", "401", "500", "503"]);

    const jobEvents = document.paths[`${ENDPOINT_PATH}/jobs/{jobId}/events`].get;
    expect(jobEvents.parameters.map((p: { in: string; name: string }) => `${p.in} ${p.name}`)).toEqual(["path jobId", "query queueName"]);
    expect(jobEvents.security).toContainEqual({ apikeyQuery: [] });
    const statusEvent = jobEvents.responses["200"].content["text/event-stream"].schema.anyOf[0];
    expect(statusEvent.properties).toEqual({ event: { type: "string", const: "status" }, data: { $ref: "#/components/schemas/StatusData" } });
    const queueEvents = document.paths[`${ENDPOINT_PATH}/queues/{name}/events`].get;
    expect(queueEvents.parameters.map((p: { in: string; name: string }) => `${p.in} ${p.name}`)).toEqual(["path name"]);
    expect(queueEvents.responses["200"].content["text/event-stream"].schema.anyOf.map((e: { properties: { event: { const: string } } }) => e.properties.event.const)).toEqual(["job", "counts"]);
  });

  it("holds README's example requests valid, and its example answers among the documented ones", () => {
    const examples = readmeExamples(readFileSync(new URL("../../README.md", import.meta.url), "utf8"));
    const requests = examples.filter((e) => e.kind === "request" && !e.skipped);
    const answers = examples.filter((e) => e.kind === "response" && !e.skipped);
    const request = schemaAt(["components", "schemas", "ActionRequest"]);
    for (const example of requests) expect({ line: example.line, errors: request(example.json) }).toEqual({ line: example.line, errors: [] });

    // An answer shown without its request: valid under some response the document gives.
    const documented = Object.entries(document.paths as Record<string, Record<string, { responses: Responses }>>).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, operation]) =>
        Object.keys(operation.responses).map((status) => ({ at: `${method.toUpperCase()} ${path} ${status}`, pointer: ["paths", path, method, "responses", status, "content", "application/json", "schema"] })),
      ),
    ).filter(({ pointer }) => document.paths[pointer[1]!][pointer[2]!].responses[pointer[4]!].content?.["application/json"]);
    for (const example of answers) {
      const matches = documented.filter(({ pointer }) => schemaAt(pointer)(example.json).length === 0).map(({ at }) => at);
      expect({ line: example.line, matches }).toEqual({ line: example.line, matches: expect.arrayContaining([expect.any(String)]) });
    }
    expect(requests.length).toBeGreaterThanOrEqual(10);
    expect(answers.length).toBeGreaterThanOrEqual(1);
    const skipped = examples.filter((e) => e.skipped).map((e) => `line ${e.line} ${e.kind}: ${e.skipped}`);
    process.stdout.write(
      `[openapi] README: ${requests.length} example requests and ${answers.length} example answers valid; ${skipped.length} skipped (${skipped.join("; ")})\n`,
    );
  });

  it("lets a client import its schemas without the Worker: they reach only zod and each other", () => {
    const reached = new Set<string>();
    const visit = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      const source = readFileSync(new URL(`../../src/${file}`, import.meta.url), "utf8");
      for (const [, from = ""] of source.matchAll(/^import [^;]*? from "([^"]+)";/gms)) {
        if (from === "zod") continue;
        expect(from, `${file} imports ${from}`).toMatch(/^\.\.?\//);
        visit(new URL(from, new URL(`file:///${file}`)).pathname.slice(1) + ".ts");
      }
    };
    for (const entry of ["http/api-schema.ts", "http/responses.ts", "http/event-schemas.ts"]) visit(entry);
    expect([...reached].sort()).toEqual(["http/api-schema.ts", "http/errors.ts", "http/event-schemas.ts", "http/responses.ts", "jobs.ts"]);
  });
});
