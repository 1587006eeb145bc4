// One spawned OS process (a directory, a pserver, a lying pserver): its output is kept line by line (a
// tail in memory, everything in a log file), readiness is awaited by parsing its log lines with a
// bound, and it can be stopped gracefully or killed with any signal.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync, type WriteStream } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PROCESS_LOG_TAIL_LINES, PROCESS_STOP_GRACE_MS } from "../constants.js";
import { releasePid, trackPid } from "./cleanup.js";

/**
 * The repository whose directory and pserver programs chaos runs: this one, or CHAOS_SYSTEM_ROOT (a
 * checkout of another commit, to tell whether a failure is in committed code or in work in progress).
 */
export const REPO_ROOT = process.env.CHAOS_SYSTEM_ROOT
  ? path.resolve(process.env.CHAOS_SYSTEM_ROOT)
  : fileURLToPath(new URL("../../../", import.meta.url));

/** tsx's ESM loader, by absolute URL: children run in temp folders where a bare "tsx" would not resolve. */
function tsxLoaderUrl(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve("tsx/package.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { exports: { ".": string | { import?: string } } };
  const entry = manifest.exports["."];
  const relative = typeof entry === "string" ? entry : (entry.import ?? "./dist/loader.mjs");
  return pathToFileURL(path.join(path.dirname(manifestPath), relative)).href;
}

const DIE_WITH_PARENT_URL = new URL("./die-with-parent.ts", import.meta.url).href;

/** How a process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What to run. */
export interface SpawnOptions {
  /** Short name for messages and the log file. */
  readonly name: string;
  /** The TypeScript (or JavaScript) entry point, absolute. */
  readonly script: string;
  readonly args: readonly string[];
  /** Working folder (a temp folder: the programs read a `.env` from it). */
  readonly cwd: string;
  /** Where the whole output goes (appended). */
  readonly logFile: string;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Node flags before the script (a pserver's: peer-node/bin/node-flags.js). */
  readonly nodeFlags?: readonly string[];
}

/** The environment a child gets: ours minus every PEER_* / DIRECTORY_* setting, so nothing leaks in. */
function childEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PEER_|DIRECTORY_|P2P_)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra, CHAOS_PARENT_PID: String(process.pid), NODE_OPTIONS: "" };
}

/** A spawned process with its output and exit. */
export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves once the process has exited. */
  readonly exited: Promise<Exit>;
  readonly #child: ChildProcess;
  readonly #tail: string[] = [];
  readonly #listeners = new Set<(line: string, json: Record<string, unknown> | undefined) => void>();
  readonly #log: WriteStream;
  #exit: Exit | undefined;

  private constructor(name: string, child: ChildProcess, log: WriteStream) {
    this.name = name;
    this.#child = child;
    this.#log = log;
    if (child.pid === undefined) throw new Error(`${name} could not be spawned`);
    this.pid = child.pid;
    trackPid(this.pid);
    this.exited = new Promise<Exit>((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        releasePid(this.pid);
        resolve(this.#exit);
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on("line", (line) => this.#onLine(line));
    }
    void this.exited.then(() => this.#log.end());
  }

  /** Spawns `node [nodeFlags] --import tsx --import die-with-parent <script> <args>`. */
  static spawn(options: SpawnOptions): ManagedProcess {
    const log = createWriteStream(options.logFile, { flags: "a" });
    log.write(`--- ${new Date().toISOString()} start ${options.name}: ${options.args.join(" ")}\n`);
    const child = spawn(
      process.execPath,
      [...(options.nodeFlags ?? []), "--import", tsxLoaderUrl(), "--import", DIE_WITH_PARENT_URL, options.script, ...options.args],
      { cwd: options.cwd, env: childEnv(options.env), stdio: ["ignore", "pipe", "pipe"] },
    );
    child.on("error", (error) => log.write(`spawn error: ${error.message}\n`));
    return new ManagedProcess(options.name, child, log);
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.#exit === undefined;
  }

  /** How it ended, once it has. */
  get exit(): Exit | undefined {
    return this.#exit;
  }

  /** The last lines of output, for a failure message. */
  tail(lines = PROCESS_LOG_TAIL_LINES): string {
    return this.#tail.slice(-lines).join("\n");
  }

  /** Calls `listener` for every later line of output (JSON lines also parsed); returns the unsubscribe. */
  onLine(listener: (line: string, json: Record<string, unknown> | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Waits for the first later output line for which `match` returns a value; fails when the process
   * exits first or after `timeoutMs`, with the output's tail in the message.
   */
  waitForLine<T>(match: (line: string, json: Record<string, unknown> | undefined) => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (error: Error | undefined, value?: T) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        if (error) reject(error);
        else resolve(value as T);
      };
      const unsubscribe = this.onLine((line, json) => {
        let value: T | undefined;
        try {
          value = match(line, json);
        } catch {
          value = undefined;
        }
        if (value !== undefined) finish(undefined, value);
      });
      const timer = setTimeout(
        () => finish(new Error(`${this.name}: no ${what} within ${timeoutMs} ms. Last output:\n${this.tail()}`)),
        timeoutMs,
      );
      void this.exited.then((exit) =>
        finish(new Error(`${this.name} exited (code ${exit.code}, signal ${exit.signal}) before ${what}. Last output:\n${this.tail()}`)),
      );
    });
  }

  /** Sends a signal (SIGKILL by default) and waits for the exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<Exit> {
    if (this.alive) {
      try {
        this.#child.kill(signal);
      } catch {
        // Exited in between.
      }
    }
    return this.exited;
  }

  /** Freezes (SIGSTOP) the process, e.g. to stop it at an exact point before killing it. */
  freeze(): void {
    if (this.alive) this.#child.kill("SIGSTOP");
  }

  /** SIGTERM, then SIGKILL if it has not exited after the grace period. */
  async stop(graceMs = PROCESS_STOP_GRACE_MS): Promise<Exit> {
    if (!this.alive) return this.exited;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #onLine(line: string): void {
    this.#log.write(`${line}\n`);
    this.#tail.push(line);
    if (this.#tail.length > PROCESS_LOG_TAIL_LINES * 2) this.#tail.splice(0, this.#tail.length - PROCESS_LOG_TAIL_LINES);
    let json: Record<string, unknown> | undefined;
    if (line.startsWith("{")) {
      try {
        json = JSON.parse(line) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
    }
    for (const listener of this.#listeners) listener(line, json);
  }
}
