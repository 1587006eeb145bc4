#!/usr/bin/env node
// The peer-node command: loads the TypeScript sources through tsx (no build step), then runs the CLI.
import { register } from "tsx/esm/api";

register();
const { runFromProcess } = await import("../src/cli.ts");
await runFromProcess();
