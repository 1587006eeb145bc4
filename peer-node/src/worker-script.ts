// Where a worker thread's code is. A thread runs a JavaScript file, never our TypeScript: Node 20 cannot
// strip types, and neither tsx's loader nor vitest's module runner reaches into a worker. So each worker
// is an esbuild bundle of its own (bin/bundle.js), made beside the bundle that starts it, the way the
// CLI is made for plain Node.
import type * as Bundler from "../bin/bundle.js";

/** Bundles already made by this process from the sources, by worker map. */
const madeFromSources = new Map<Readonly<Record<string, string>>, Promise<void>>();

/**
 * The file of worker `name` (a bundle name of `workers`, bin/bundle.js's WORKERS unless given). Run
 * from a bundle (the CLI, the benchmark), it is the bundle made beside this one. Run from the
 * TypeScript sources (tests, tsx), there is none: the workers are bundled now, once per process, into
 * peer-node/dist.
 */
export async function workerScript(name: string, workers?: Readonly<Record<string, string>>): Promise<URL> {
  if (!import.meta.url.endsWith(".ts")) return new URL(`./${name}.mjs`, import.meta.url);
  // A specifier esbuild cannot follow: bundled, this module must not pull the bundler (and esbuild)
  // into every pserver, and this path is never taken there.
  const bundler = new URL("../bin/bundle.js", import.meta.url);
  const { WORKERS, bundleWorkers } = (await import(bundler.href)) as typeof Bundler;
  const map = workers ?? WORKERS;
  if (!(name in map)) throw new Error(`no worker named ${name} to bundle`);
  let made = madeFromSources.get(map);
  if (!made) {
    made = bundleWorkers(map);
    madeFromSources.set(map, made);
    made.catch(() => madeFromSources.delete(map));
  }
  await made;
  return new URL(`../dist/${name}.mjs`, import.meta.url);
}
