/** Bundles a peer-node entry point (relative to peer-node/) into `<outDir>/<name>.mjs` for plain Node; resolves with its path. */
export function bundle(entry: string, name: string, outDir?: string): Promise<string>;
