// What bench/sweep/setup.ts provides to bench/sweep.bench.ts.
import "vitest";

declare module "vitest" {
  interface ProvidedContext {
    /** A port where nothing listens: a connection is refused at once. */
    refusedUrl: string;
    /** A server that accepts every connection and never answers. */
    silentUrl: string;
  }
}
