// Starts a hash worker (hash-worker.ts) where the bundler can resolve it: kept apart from hash-pool.ts
// so that code bundled without Vite (the content-id e2e test bundles hash-pieces.ts with esbuild) never meets
// the worker's URL.

/** A new hash worker for a HashPool. */
export function createHashWorker(): Worker {
  return new Worker(new URL("./hash-worker.ts", import.meta.url), { type: "module" });
}
