// Types for build-dashboard.mjs, so TypeScript callers (the dashboard's e2e test) are type-checked.

/** public/, the directory wrangler.jsonc serves as static assets. */
export const PUBLIC_DIR: string;

/** Builds public/ afresh from dashboard/; resolves with the files written, relative to the repository. */
export function buildDashboard(options?: { logLevel?: "silent" | "error" | "warning" | "info" }): Promise<string[]>;
