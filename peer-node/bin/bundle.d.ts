/** peer-node's worker threads: bundle name -> source (relative to peer-node/). */
export const WORKERS: Readonly<Record<string, string>>;
/** Bundles a peer-node entry point (relative to peer-node/) into `<outDir>/<name>.mjs` for plain Node, and `workers` beside it; resolves with its path. */
export function bundle(entry: string, name: string, outDir?: string, workers?: Readonly<Record<string, string>>): Promise<string>;
/** Bundles only `workers` into `outDir` (default peer-node/dist), for code run from the TypeScript sources. */
export function bundleWorkers(workers?: Readonly<Record<string, string>>, outDir?: string): Promise<void>;
