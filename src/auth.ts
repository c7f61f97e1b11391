/**
 * API keys: `Authorization: Bearer <key>` or Supabase's `apikey` header, compared in constant
 * time against API_KEYS. With no keys configured, production refuses everything (fail closed);
 * ENVIRONMENT=development lets requests through and says so in the log.
 */
import { apiKeys, isDevelopment, type AppEnv } from "./config";
import { ApiError } from "./errors";
import { log } from "./log";

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
  const presented = presentedKey(headers);
  if (!presented) throw new ApiError("UNAUTHORIZED", "missing credentials: send Authorization: Bearer <key> or an apikey header");
  const matches = await Promise.all(keys.map((key) => equalInConstantTime(presented, key)));
  if (!matches.includes(true)) throw new ApiError("UNAUTHORIZED", "invalid API key");
}

function presentedKey(headers: Headers): string | null {
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1]?.trim();
  return bearer || headers.get("apikey")?.trim() || null;
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
