// Makes JavaScript files of peer-node entry points for plain Node, with esbuild: our TypeScript and the
// workspace's @p2p/* sources (the generated protocol code) are bundled, npm packages are not.
//
// Why: every pserver used to run its TypeScript through tsx's loader, which cost ~35 MiB of RSS per
// process (64 instead of 100 MB before any transfer, measured with the transfer benchmark). Bundling
// takes ~50 ms, so it runs on every start and the bundle is never older than the sources: there is no
// build step to forget.
//
// Worker threads are entry points of their own: a thread runs a file, and that file is a bundle made
// beside the bundle that starts it, every time that one is made (src/worker-script.ts finds it there).
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const distDir = path.join(packageDir, "dist");

/**
 * npm packages bundled like our own code. typebox: imported, it loads as ~680 ES modules, and each module
 * Node loads keeps its source text, its module records and its namespace in the V8 heap for the life of
 * the process: bundled, it is one more part of one module. The online, idle pserver's V8 heap went from
 * 23 to 16 MB used and its RSS at the peak of a 256 MiB download from 119-120 to 107-109 MiB (bench:real,
 * 2 paired rounds, load 4-5). Bundling @bufbuild/protobuf and @connectrpc/* too (~140 modules) did not
 * help: the larger bundle's parse left more malloc heap than the modules cost (idle RSS +3 MiB).
 */
export const BUNDLED_PACKAGES = ["typebox"];

/** peer-node's worker threads: bundle name -> source (relative to peer-node/). */
export const WORKERS = { "piece-worker-thread": "src/download/piece-worker-thread.ts" };

/**
 * Bundles `entry` (relative to peer-node/) into <outDir>/<name>.mjs, and each of `workers` into
 * <outDir>/<its name>.mjs, with source maps beside them; returns the entry's bundle path. Concurrent
 * starts are safe: each writes its own temporary files and renames them into place, and an unchanged
 * bundle is not rewritten.
 */
export async function bundle(entry, name, outDir = distDir, workers = WORKERS) {
  await bundleEntries({ [name]: entry, ...workers }, outDir);
  return path.join(outDir, `${name}.mjs`);
}

/** Bundles only `workers` into <outDir>: for code that runs from the TypeScript sources (tests, tsx). */
export async function bundleWorkers(workers = WORKERS, outDir = distDir) {
  await bundleEntries(workers, outDir);
}

async function bundleEntries(entries, outDir) {
  const result = await build({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, source]) => [name, path.resolve(packageDir, source)])),
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    // Node keeps a module's source text in the V8 heap for the life of the process. Without whitespace
    // and comments the bundle is ~25% smaller, and one-byte: a comment with a character above U+00FF
    // ("→") made V8 hold the whole source as two bytes a character (idle V8 heap -1.2 MB in all).
    // Stack traces still point into the TypeScript sources through the source map; names are kept.
    minifyWhitespace: true,
    // The map without copies of the sources: Node keeps a loaded map in memory for stack traces, and
    // those need only the mappings (an uncaught error's code frame reads the source from its file).
    // -2.4 to -2.8 MiB idle RSS of `serve`; the map 2.0 -> 0.6 MB.
    sourcesContent: false,
    logLevel: "warning",
    plugins: [
      {
        name: "npm-packages-external",
        setup(b) {
          // Bare imports stay imports, except our own workspaces, which ship TypeScript sources, and the
          // packages of BUNDLED_PACKAGES.
          const bundled = (p) => p.startsWith("@p2p/") || BUNDLED_PACKAGES.some((name) => p === name || p.startsWith(`${name}/`));
          b.onResolve({ filter: /^[^./]/ }, (args) => (bundled(args.path) ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
  await mkdir(outDir, { recursive: true });
  for (const file of result.outputFiles) {
    const current = await readFile(file.path).catch(() => undefined);
    if (current?.equals(file.contents)) continue;
    // Unique per call: test files in threads of one process may bundle at the same moment.
    const temporary = `${file.path}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temporary, file.contents);
    await rename(temporary, file.path);
  }
}

// Run as a program (`node bin/bundle.js <entry> <name>`): bundles and prints the bundle's path. The
// peer-node command bundles this way, in a process of its own: esbuild's output (bundles and source
// maps, ~10 MiB) passing through the pserver's own memory raised its RSS for good by ~20 MiB
// (glibc keeps freed memory below the trim threshold the pserver runs with, bin/node-flags.js).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [entry, name] = process.argv.slice(2);
  if (!entry || !name) {
    process.stderr.write("usage: node bin/bundle.js <entry relative to peer-node/> <bundle name>\n");
    process.exit(2);
  }
  process.stdout.write(`${await bundle(entry, name)}\n`);
}
