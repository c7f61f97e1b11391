/**
 * CORS for browser clients (supabase-js): preflights, CORS_ORIGINS, and CORS headers on error
 * responses too, without which a browser hides the error envelope from the page.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { AUTH, ENDPOINT } from "./http";

const LISTED = "https://app.example.com";
const UNLISTED = "https://evil.example.net";
// Written as people write them: spaces, a trailing slash, capitals.
const CORS_ORIGINS = ` ${LISTED}/ , HTTPS://Admin.Example.com`;

const preflight = (origin: string) =>
  new Request(ENDPOINT, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,apikey,content-type,x-client-info" },
  });

const post = (origin: string, body: string, headers: Record<string, string> = AUTH) =>
  new Request(ENDPOINT, { method: "POST", headers: { origin, "content-type": "application/json", ...headers }, body });

/** The Worker with CORS_ORIGINS set to `corsOrigins`, as a deployment would configure it. */
async function fetchWith(corsOrigins: string, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, CORS_ORIGINS: corsOrigins }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("CORS_ORIGINS unset (*)", () => {
  it("answers a preflight for any origin, without credentials", async () => {
    const response = await exports.default.fetch(preflight(UNLISTED));
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    expect(response.headers.get("access-control-allow-methods")).toBe("POST");
    expect(response.headers.get("access-control-allow-headers")?.split(",")).toEqual(
      expect.arrayContaining(["authorization", "apikey", "content-type", "x-client-info"]),
    );
  });

  it.each([
    ["401", "{}", {}, 401],
    ["400", "{not json", AUTH, 400],
    ["413", JSON.stringify({ blob: "x".repeat(70_000) }), AUTH, 413],
  ])("puts the CORS headers on a %s too", async (_name, body, headers, status) => {
    const response = await exports.default.fetch(post(UNLISTED, body, headers));
    expect(response.status).toBe(status);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-expose-headers")).toBe("Retry-After");
    expect(await response.json()).toMatchObject({ success: false });
  });
});

describe("CORS_ORIGINS with a list", () => {
  it("reflects a listed origin, and only to it allows credentials", async () => {
    for (const origin of [LISTED, "https://admin.example.com"]) {
      const response = await fetchWith(CORS_ORIGINS, preflight(origin));
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe(origin);
      expect(response.headers.get("access-control-allow-credentials")).toBe("true");
      expect(response.headers.get("vary")).toMatch(/origin/i);
    }
  });

  it("gives an unlisted origin neither its origin, nor *, nor credentials", async () => {
    for (const request of [preflight(UNLISTED), post(UNLISTED, '{"action":"stats"}'), post("null", '{"action":"stats"}')]) {
      const response = await fetchWith(CORS_ORIGINS, request);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    }
  });

  it("a list that contains * is any origin, still without credentials", async () => {
    const response = await fetchWith(`${LISTED},*`, preflight(UNLISTED));
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it.each([
    ["401", "{}", {}, 401, "UNAUTHORIZED"],
    ["400", '{"action":"explode"}', AUTH, 400, "INVALID_REQUEST"],
  ])("puts the CORS headers on a %s for a listed origin", async (_name, body, headers, status, code) => {
    const response = await fetchWith(CORS_ORIGINS, post(LISTED, body, headers));
    expect(response.status).toBe(status);
    expect(response.headers.get("access-control-allow-origin")).toBe(LISTED);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(response.headers.get("vary")).toMatch(/origin/i);
    expect(await response.json()).toMatchObject({ success: false, code });
  });
});
