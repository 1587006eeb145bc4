#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432:${GLIBC_TUNABLES} node --max-semi-space-size=1
// The peer-node command: bundles the CLI for plain Node (bundle.js says why and how), then runs it.
// Stack traces in logs point into the TypeScript sources through the bundle's source map.
// The shebang's environment and Node flags are bin/node-flags.js's (which says why); run by hand, give them yourself.
import { pathToFileURL } from "node:url";
import { bundle } from "./bundle.js";

process.setSourceMapsEnabled(true);
const file = await bundle("src/cli/main.ts", "peer-node");
const { runFromProcess } = await import(pathToFileURL(file).href);
await runFromProcess();
