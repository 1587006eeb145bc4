#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432:glibc.malloc.arena_max=1:${GLIBC_TUNABLES} node --max-semi-space-size=1
// The peer-node command: bundles the CLI for plain Node (bundle.js says why and how), then runs it.
// Stack traces in logs point into the TypeScript sources through the bundle's source map.
// The shebang's environment and Node flags are bin/node-flags.js's (which says why); run by hand, give them yourself.
import { execFileSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

process.setSourceMapsEnabled(true);
// In a child process, so the bundler's memory is never this process's (bundle.js says how much).
const bundler = fileURLToPath(new URL("./bundle.js", import.meta.url));
const file = execFileSync(process.execPath, [bundler, "src/cli/main.ts", "peer-node"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
const { runFromProcess } = await import(pathToFileURL(file).href);
await runFromProcess();
