// Types for chromium.mjs, so TypeScript callers (the dashboard's e2e test) are type-checked.

export interface ChromiumOptions {
  /** How long to wait for the DevTools endpoint; default 30000. */
  timeoutMs?: number;
  /** Install Debian's chromium if it is missing (root only); default true. */
  install?: boolean;
  /** Where notices go (the apt-get install); default console.error. */
  say?: (line: string) => void;
}

export interface Chromium {
  /** The browser's DevTools WebSocket, for playwright-core's `chromium.connectOverCDP`. */
  wsEndpoint: string;
  pid: number;
  binary: string;
  version: string;
  /** Its fresh profile, removed by stop(). */
  userDataDir: string;
  /** Stops the browser (its whole process group) and removes its profile. */
  stop(): Promise<void>;
}

export function startChromium(options?: ChromiumOptions): Promise<Chromium>;

export function findChromium(): string | null;
