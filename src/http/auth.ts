/**
 * API keys: `Authorization: Bearer <key>` or Supabase's `apikey` header, compared in constant
 * time against API_KEYS. With no keys configured, production refuses everything (fail closed);
 * ENVIRONMENT=development lets requests through and says so in the log.
 */
import { apiKeys, isDevelopment, type AppEnv } from "../config";
import { ApiError } from "./errors";
import { log } from "../log";

let warnedAuthOff = false;

export async function authenticate(headers: Headers, env: AppEnv): Promise<void> {
  const keys = apiKeys(env);
  if (keys.length === 0) {
    if (isDevelopment(env)) {
      if (!warnedAuthOff) log({ event: "auth_disabled", reason: "no API_KEYS and ENVIRONMENT=development" }, "warn");
      warnedAuthOff = true;
      return;
    }
    throw new ApiError("UNAUTHORIZED", "no API keys are configured on this deployment; every request is refused");
  }
  const presented = presentedKeys(headers);
  if (presented.length === 0) throw new ApiError("UNAUTHORIZED", "missing credentials: send Authorization: Bearer <key> or an apikey header");
  const matches = await Promise.all(presented.flatMap((candidate) => keys.map((key) => equalInConstantTime(candidate, key))));
  if (!matches.includes(true)) throw new ApiError("UNAUTHORIZED", "invalid API key");
}

/**
 * Both places a key may come in. supabase-js sends the project key as `apikey` and, once a user
 * signs in, the user's JWT as the bearer token: either one matching is enough.
 */
function presentedKeys(headers: Headers): string[] {
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1]?.trim();
  return [bearer, headers.get("apikey")?.trim()].filter((key): key is string => Boolean(key));
}

/** Hashing first makes both sides the same length, so timingSafeEqual applies and leaks nothing. */
async function equalInConstantTime(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}
