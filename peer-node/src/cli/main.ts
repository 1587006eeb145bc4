// `peer-node`: run a pserver (`serve`) or drive a running one through ClientService (`login`, `ls`,
// `search`, `download`, `upload`, ...), or print a file's content id (`hash`). This is the entry: it parses argv, runs the command and turns
// what went wrong into words and an exit code. The commands are in serve.ts, session-commands.ts and
// file-commands.ts.
// First: before any module uses the global Headers (light-headers.ts says why).
import "../install-light-headers.js";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ConfigError } from "../config.js";
import { CommandContext, type CliIo } from "./context.js";
import { describeCliError } from "./errors.js";
import { hash } from "./hash-command.js";
import { cancel, download, ls, peers, search, transfers, upload } from "./file-commands.js";
import { serve } from "./serve.js";
import { settings } from "./settings-commands.js";
import { login, logout, status } from "./session-commands.js";
import { USAGE } from "./usage.js";

export type { CliIo } from "./context.js";

const ONE_SHOT_OPTIONS = {
  url: { type: "string" },
  "token-file": { type: "string" },
  ca: { type: "string" },
  username: { type: "string" },
  password: { type: "string" },
  "content-id": { type: "string" },
  name: { type: "string" },
  to: { type: "string" },
  limit: { type: "string" },
  detach: { type: "boolean" },
  accept: { type: "string" },
  from: { type: "string" },
  "max-file": { type: "string" },
  quota: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs the CLI with these arguments; resolves with the process exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  let ctx: CommandContext | undefined;
  try {
    if (!command || command === "help" || command === "--help" || command === "-h") {
      io.stdout.write(USAGE);
      return command ? 0 : 2;
    }
    if (command === "serve") return await serve(rest, io);
    if (command === "hash") return await hash(rest, io);
    const { values, positionals } = parseArgs({ args: rest, options: ONE_SHOT_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    ctx = new CommandContext(values, io);
    switch (command) {
      case "login":
        return await login(ctx);
      case "logout":
        return await logout(ctx);
      case "status":
        return await status(ctx);
      case "ls":
        return await ls(ctx);
      case "search":
        return await search(ctx, positionals.join(" "));
      case "peers":
        return await peers(ctx);
      case "download":
        return await download(ctx, positionals[0]);
      case "upload":
        return await upload(ctx, positionals[0]);
      case "transfers":
        return await transfers(ctx);
      case "cancel":
        return await cancel(ctx, positionals[0]);
      case "settings":
        return await settings(ctx);
      default:
        io.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    return report(err, io, ctx && { command: command!, url: ctx.url });
  }
}

/** Prints an error for a person and picks the exit code (2 for usage and configuration). */
function report(err: unknown, io: CliIo, scene: { command: string; url: string } | undefined): number {
  if (err instanceof ConfigError || (err instanceof TypeError && (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) {
    io.stderr.write(`${err.message}\n(peer-node --help lists the commands and options)\n`);
    return 2;
  }
  if (scene) {
    io.stderr.write(`${describeCliError(err, scene)}\n`);
    return 1;
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE") {
    io.stderr.write(`The port is already in use: ${(err as Error).message}. Pick another with --port (0 = any free port).\n`);
    return 1;
  }
  io.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}

// Run when executed directly (`node --import tsx src/cli/main.ts ...`); bin/peer-node.js calls runFromProcess() itself.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void runFromProcess();
}

/** Runs main() for this process: real stdio, Ctrl+C handling, exit code. */
export async function runFromProcess(): Promise<void> {
  if (process.argv[2] !== "serve") {
    // One-shot commands: Ctrl+C just stops watching; a transfer goes on in the pserver.
    process.once("SIGINT", () => {
      process.stderr.write("\nStopped watching; anything started goes on in the pserver (peer-node transfers / cancel).\n");
      process.exit(130);
    });
  }
  let signals = 0;
  const interrupted = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      // A second Ctrl+C means "now": skip the graceful close.
      if (signals > 1) process.exit(130);
      resolve(signal);
    };
    if (process.argv[2] === "serve") {
      process.on("SIGINT", onSignal);
      // A supervisor that died took our output's reader with it (EPIPE): the lines are lost, the pserver
      // is not (an unhandled error on stdout would crash it and skip the logout).
      for (const out of [process.stdout, process.stderr]) out.on("error", () => undefined);
    }
    process.on("SIGTERM", onSignal);
    // Started by a supervisor with an IPC channel (npm start): its end, even a crash, stops us gracefully.
    // (The channel may have closed already, while bin/peer-node.js was still bundling: then no event comes.)
    if (process.argv[2] === "serve" && process.send !== undefined) {
      if (process.connected) process.once("disconnect", () => onSignal("SIGTERM"));
      else onSignal("SIGTERM");
    }
  });
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    interrupted,
  });
  process.exit(code);
}
