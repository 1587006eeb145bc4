// A worker thread runs a JavaScript file. The directory runs from its TypeScript sources (under tsx's
// loader, which Node 20 does not carry into worker threads), so a thread's module is bundled with
// esbuild into server/dist/ on first use, once per process, the way peer-node bundles its workers.
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";

/**
 * npm packages (better-sqlite3 and its native addon) stay imports, resolved from this package; the
 * workspace's own packages (@p2p/*) are TypeScript sources, which plain Node cannot load: they are bundled.
 */
const npmPackagesExternal: Plugin = {
  name: "npm-packages-external",
  setup(bundle) {
    bundle.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith("@p2p/") ? undefined : { external: true }));
  },
};

const distDir = fileURLToPath(new URL("../../dist/", import.meta.url));
const made = new Map<string, Promise<URL>>();

/** The file URL of `entry` (a TypeScript module of this package) bundled for a worker thread. */
export function threadBundle(entry: URL): Promise<URL> {
  let bundle = made.get(entry.href);
  if (!bundle) {
    bundle = bundleOnce(entry);
    made.set(entry.href, bundle);
    bundle.catch(() => made.delete(entry.href));
  }
  return bundle;
}

async function bundleOnce(entry: URL): Promise<URL> {
  const entryPath = fileURLToPath(entry);
  const outfile = path.join(distDir, `${path.basename(entryPath, ".ts")}.mjs`);
  const result = await build({
    entryPoints: [entryPath],
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    plugins: [npmPackagesExternal],
  });
  await mkdir(distDir, { recursive: true });
  // Concurrent starts each write their own temporary file and rename it into place.
  const temporary = `${outfile}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, result.outputFiles[0]!.contents);
  await rename(temporary, outfile);
  return pathToFileURL(outfile);
}
