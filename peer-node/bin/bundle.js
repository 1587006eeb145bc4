// Makes one JavaScript file of a peer-node entry point for plain Node, with esbuild: our TypeScript and
// the workspace's @p2p/* sources (the generated protocol code) are bundled, npm packages are not.
//
// Why: every pserver used to run its TypeScript through tsx's loader, which cost ~35 MiB of RSS per
// process (64 instead of 100 MB before any transfer; bench, issue 4). Bundling takes ~50 ms, so it runs
// on every start and the bundle is never older than the sources: there is no build step to forget.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Bundles `entry` (relative to peer-node/) into peer-node/dist/<name>.mjs, with a source map beside it,
 * and returns the bundle's path. Concurrent starts are safe: each writes its own temporary files and
 * renames them into place, and an unchanged bundle is not rewritten.
 */
export async function bundle(entry, name, outDir = path.join(packageDir, "dist")) {
  const outfile = path.join(outDir, `${name}.mjs`);
  const result = await build({
    entryPoints: [path.resolve(packageDir, entry)],
    outfile,
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    logLevel: "warning",
    plugins: [
      {
        name: "npm-packages-external",
        setup(b) {
          // Bare imports stay imports, except our own workspaces, which ship TypeScript sources.
          b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith("@p2p/") ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
  await mkdir(outDir, { recursive: true });
  for (const file of result.outputFiles) {
    const current = await readFile(file.path).catch(() => undefined);
    if (current?.equals(file.contents)) continue;
    const temporary = `${file.path}.${process.pid}.tmp`;
    await writeFile(temporary, file.contents);
    await rename(temporary, file.path);
  }
  return outfile;
}
