// The CLI's main() run in-process with captured output, for tests that drive a real pserver with it.
// A pipe is not a terminal, so progress comes as plain lines.
import { PassThrough } from "node:stream";
import { main } from "../../src/cli/main.js";

/** What one CLI run printed and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `peer-node <argv>` with these environment variables and working folder. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => (out += c));
  stderr.on("data", (c) => (err += c));
  const code = await main(argv, { stdout, stderr, stdin: new PassThrough(), env, cwd });
  return { code, out, err };
}
