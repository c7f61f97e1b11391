// Types for redis-server.mjs, so TypeScript callers (the BullMQ bench's Node half) are type-checked.

export interface RedisServerOptions {
  /** How long to wait for PONG; default 10000. */
  timeoutMs?: number;
  /** Install Debian's redis-server if it is missing (root only); default true. */
  install?: boolean;
  /** Where notices go (the apt-get install); default console.error. */
  say?: (line: string) => void;
  /** Every write on disk before Redis answers (appendfsync always); default false. */
  durable?: boolean;
}

export interface RedisServer {
  url: string;
  host: string;
  port: number;
  pid: number;
  binary: string;
  version: string;
  /** Stops the server and removes its working directory. */
  stop(): Promise<void>;
}

export function startRedisServer(options?: RedisServerOptions): Promise<RedisServer>;

export function findRedisServer(): string | null;
