// The benchmarks' server processes: started from a script in bench/, stopped with SIGTERM, and asked
// for their event-loop delay over IPC (loop-delay.ts).

import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { LoopDelay } from "./loop-delay.js";

const SERVER_DIR = join(import.meta.dirname, "..");
/** USER_HZ of /proc/<pid>/stat on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;

/** A benchmark server process. */
export interface Server {
  url: string;
  startupMs: number;
  child: ChildProcess;
}

/** Starts `bench/<script>` with `args` and resolves once it printed the URL it listens on. */
export async function serve(script: string, ...args: string[]): Promise<Server> {
  return serveWith({}, script, ...args);
}

/** Like serve, with more environment variables. */
export async function serveWith(env: Record<string, string>, script: string, ...args: string[]): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", `bench/${script}`, ...args], {
    cwd: SERVER_DIR,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    // The server's log shares its stdout: a line it logs first (a migration at start, 2026-12-05) is
    // passed on, not taken for the URL.
    const lines = createInterface({ input: child.stdout! });
    const onLine = (line: string) => {
      const parsed = JSON.parse(line) as { url?: string; startupMs: number; pid: number };
      if (parsed.url === undefined) return void process.stderr.write(`${line}\n`);
      lines.off("line", onLine);
      resolve({ ...parsed, url: parsed.url, child });
    };
    lines.on("line", onLine);
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}

/** Stops a benchmark server and waits for it to exit. */
export async function stop(server: Server): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

/** Starts a new event-loop delay measurement in the server. */
export function resetLoopDelay(server: Server): Promise<void> {
  return ask(server, "reset").then(() => undefined);
}

/** The server's event-loop delay since the last reset. */
export function readLoopDelay(server: Server): Promise<LoopDelay> {
  return ask(server, "read") as Promise<LoopDelay>;
}

function ask(server: Server, loopDelay: "reset" | "read"): Promise<LoopDelay | null> {
  return new Promise((resolve) => {
    const answer = (message: { loopDelay?: LoopDelay | null }) => {
      if (message.loopDelay === undefined) return;
      server.child.off("message", answer);
      resolve(message.loopDelay);
    };
    server.child.on("message", answer);
    server.child.send({ loopDelay });
  });
}

/** CPU seconds (user + system) process `pid` has used so far; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** "max 12.3 ms (p99 4.5 ms)". */
export function describeLoopDelay(delay: LoopDelay): string {
  return `max ${delay.maxMs.toFixed(1)} ms (p99 ${delay.p99Ms.toFixed(1)} ms)`;
}
