// `peer-node`: run a pserver (`serve`) or drive a running one through ClientService (`login`, `ls`,
// `search`, `download`, `upload`, ...). The one-shot commands speak Connect over HTTP/1.1 to the
// pserver's one port and keep the session token in a small file for the next command.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { missingPserverSettings } from "../bin/node-flags.js";
import { ConfigError, loadServeConfig, SERVE_SETTINGS, type Settings } from "./config.js";
import { PeerError } from "./errors.js";
import { connectCodeOf, reasonOf } from "./rpc/error-mapping.js";
import { ClientService, TransferKind, TransferState, type TransferProgress } from "./gen.js";
import { startPserver, stdoutLogger } from "./pserver.js";

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Resolves when the user asks to stop (Ctrl+C); `serve` closes gracefully then. */
  readonly interrupted?: Promise<string>;
}

const USAGE = `peer-node — a pserver of the p2p file sharing system

Usage:
  peer-node serve [options]                run a pserver (see options below)
  peer-node login [--username NAME]        open a session on a running pserver (password: --password,
                                           PEER_PASSWORD, or asked on the terminal)
  peer-node logout                         end the session and take the peer offline
  peer-node status                         who the pserver is and how its directory link is
  peer-node ls                             files in the pserver's shared folder
  peer-node search <text> | --content-id ID   search the network
  peer-node peers                          live peers
  peer-node download <content id> | --name NAME [--detach]
  peer-node upload <content id> [--to PEER] [--detach]
  peer-node transfers                      running and recent transfers
  peer-node cancel <transfer id>

Options of the one-shot commands:
  --url URL          the pserver to drive (PEER_URL; default http://127.0.0.1:7001)
  --token-file FILE  where sessions are kept (PEER_TOKEN_FILE; default ~/.config/p2p-share/sessions.json)

Options of serve (flags win over PEER_* environment variables, which win over a .env file):
${SERVE_SETTINGS.map((s) => `  ${`${s.flag}${"alias" in s ? `, ${s.alias}` : ""}`.padEnd(26)} ${s.env.padEnd(24)} ${s.help}`).join("\n")}
  --env-file FILE            read settings from FILE instead of ./.env
`;

const ONE_SHOT_OPTIONS = {
  url: { type: "string" },
  "token-file": { type: "string" },
  username: { type: "string" },
  password: { type: "string" },
  "content-id": { type: "string" },
  name: { type: "string" },
  to: { type: "string" },
  limit: { type: "string" },
  detach: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs the CLI with these arguments; resolves with the process exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === "help" || command === "--help" || command === "-h") {
      io.stdout.write(USAGE);
      return command ? 0 : 2;
    }
    if (command === "serve") return await serve(rest, io);
    const { values, positionals } = parseArgs({ args: rest, options: ONE_SHOT_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const ctx = new CommandContext(values, io);
    switch (command) {
      case "login":
        return await ctx.login();
      case "logout":
        return await ctx.logout();
      case "status":
        return await ctx.status();
      case "ls":
        return await ctx.ls();
      case "search":
        return await ctx.search(positionals.join(" "));
      case "peers":
        return await ctx.peers();
      case "download":
        return await ctx.download(positionals[0]);
      case "upload":
        return await ctx.upload(positionals[0]);
      case "transfers":
        return await ctx.transfers();
      case "cancel":
        return await ctx.cancel(positionals[0]);
      default:
        io.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    return report(err, io);
  }
}

/** `serve`: reads and validates the configuration, starts the pserver, closes it on SIGINT/SIGTERM. */
async function serve(args: string[], io: CliIo): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout.write(USAGE);
    return 0;
  }
  const options: Record<string, { type: "string"; short?: string }> = { "env-file": { type: "string" } };
  for (const s of SERVE_SETTINGS) options[s.key] = { type: "string" };
  options.username = { type: "string" };
  const { values } = parseArgs({ args, options, allowPositionals: false, strict: true });
  const flags: Record<string, string | undefined> = { ...(values as Record<string, string | undefined>) };
  if (flags.name === undefined && flags.username !== undefined) flags.name = flags.username;
  delete flags.username;
  const config = loadServeConfig(flags as Settings, io.env, io.cwd);
  const logger = stdoutLogger({ level: config.logLevel, name: "pserver" });
  const missing = missingPserverSettings(process.execArgv, io.env);
  if (missing.length > 0) {
    logger.warn(
      { missingSettings: missing },
      `The pserver runs without ${missing.join(" ")}: downloads cost more CPU and run slower (bin/node-flags.js says how much and why). ` +
        `Start it as ./bin/peer-node.js (its first line sets them), or set them yourself.`,
    );
  }
  const pserver = await startPserver({
    name: config.name,
    password: config.password,
    directoryUrl: config.directoryUrls,
    sharedDir: config.sharedDir,
    dataDir: config.dataDir,
    host: config.host,
    port: config.port,
    advertisedAddress: config.advertisedAddress,
    webDir: config.webDir,
    trustedOrigins: config.trustedOrigins,
    uploadBytesPerSecond: config.uploadBytesPerSecond,
    logger,
  });
  io.stdout.write(
    `pserver "${config.name}" on ${pserver.url}\n  shared folder: ${config.sharedDir}\n  directory:     ${config.directoryUrls.join(", ")}\n` +
      (config.webDir ? `  open ${pserver.url}/ in a browser\n` : "") +
      (config.password === undefined ? `  not logged in: log in from the tab or with \`peer-node login --url ${pserver.url}\`\n` : ""),
  );
  const signal = await (io.interrupted ?? new Promise<string>(() => {}));
  io.stdout.write(`${signal}: stopping (logging out of the directory)...\n`);
  await pserver.close();
  return 0;
}

interface StoredSession {
  token: string;
  peerName: string;
}

/** What every one-shot command shares: the pserver's URL, the session file, a Connect client. */
class CommandContext {
  readonly #io: CliIo;
  readonly #values: Record<string, string | boolean | undefined>;
  readonly url: string;
  readonly tokenFile: string;
  #token: string | undefined;
  readonly client: Client<typeof ClientService>;

  constructor(values: Record<string, string | boolean | undefined>, io: CliIo) {
    this.#io = io;
    this.#values = values;
    const url = (values.url as string | undefined) ?? io.env.PEER_URL ?? "http://127.0.0.1:7001";
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error();
    } catch {
      throw new ConfigError(`--url "${url}" is not an http(s) URL of a pserver.`);
    }
    this.url = url.replace(/\/+$/, "");
    this.tokenFile = path.resolve(
      io.cwd,
      (values["token-file"] as string | undefined) ?? io.env.PEER_TOKEN_FILE ?? path.join(io.env.XDG_CONFIG_HOME || path.join(os.homedir(), ".config"), "p2p-share", "sessions.json"),
    );
    const auth: Interceptor = (next) => async (req) => {
      if (this.#token) req.header.set("authorization", `Bearer ${this.#token}`);
      return next(req);
    };
    this.client = createClient(ClientService, createConnectTransport({ baseUrl: this.url, httpVersion: "1.1", interceptors: [auth] }));
  }

  async login(): Promise<number> {
    let username = this.#values.username as string | undefined;
    if (!username) {
      // The pserver knows its own name; asking it saves typing and avoids a PermissionDenied.
      username = (await this.client.getStatus({})).peerName;
    }
    const password = (this.#values.password as string | undefined) ?? this.#io.env.PEER_PASSWORD ?? (await askPassword(this.#io, `Password for ${username}: `));
    const res = await this.client.login({ username, password });
    await this.#saveSession({ token: res.sessionToken, peerName: res.peerName });
    this.#io.stdout.write(`Logged in to ${this.url} as ${res.peerName}. Session saved in ${this.tokenFile}.\n`);
    return 0;
  }

  async logout(): Promise<number> {
    await this.#loadSession();
    await this.client.logout({});
    await this.#saveSession(undefined);
    this.#io.stdout.write(`Logged out; ${this.url} is offline at the directory.\n`);
    return 0;
  }

  async status(): Promise<number> {
    await this.#loadSession(false);
    const s = await this.client.getStatus({});
    const lines = [
      `peer:       ${s.peerName} (pserver ${s.version})`,
      `logged in:  ${s.loggedIn ? "yes" : "no"}`,
      `session:    ${s.sessionValid ? "valid" : "none (run peer-node login)"}`,
    ];
    if (s.sessionValid) {
      lines.push(
        `directory:  ${s.directoryUrl} (${s.directoryReachable ? "reachable" : "unreachable"})`,
        `heartbeat:  ${s.lastHeartbeatAt ? new Date(Number(s.lastHeartbeatAt.seconds) * 1000).toISOString() : "never"}`,
        `address:    ${s.address}`,
        `files:      ${s.fileCount}`,
      );
    }
    this.#io.stdout.write(lines.join("\n") + "\n");
    return 0;
  }

  async ls(): Promise<number> {
    await this.#loadSession();
    const { files } = await this.client.listFiles({});
    if (files.length === 0) this.#io.stdout.write("The shared folder is empty.\n");
    for (const f of files) this.#io.stdout.write(`${f.contentId}  ${formatBytes(Number(f.size)).padStart(10)}  ${f.name}\n`);
    return 0;
  }

  async search(query: string): Promise<number> {
    await this.#loadSession();
    const contentId = (this.#values["content-id"] as string | undefined) ?? "";
    const limit = this.#values.limit ? Number(this.#values.limit) : 0;
    const res = await this.client.search({ query: contentId ? "" : query, contentId, limit });
    if (res.results.length === 0) this.#io.stdout.write("No live peer shares a matching file.\n");
    for (const r of res.results) {
      const holders = r.holders.map((h) => h.name).join(", ");
      this.#io.stdout.write(`${r.contentId}  ${formatBytes(Number(r.size)).padStart(10)}  ${r.name}${r.heldLocally ? "  [held here]" : ""}\n    holders: ${holders}\n`);
    }
    if (res.nextOffset) this.#io.stdout.write(`(more results: narrow the search or use --limit)\n`);
    return 0;
  }

  async peers(): Promise<number> {
    await this.#loadSession();
    const { peers } = await this.client.listPeers({});
    for (const p of peers) this.#io.stdout.write(`${p.name.padEnd(20)} ${p.address}\n`);
    if (peers.length === 0) this.#io.stdout.write("No live peers.\n");
    return 0;
  }

  async download(contentId: string | undefined): Promise<number> {
    await this.#loadSession();
    const name = (this.#values.name as string | undefined) ?? "";
    if (!contentId && !name) throw new ConfigError("download needs a content id, or --name NAME.");
    return this.#follow(this.client.download({ contentId: contentId ?? "", name }));
  }

  async upload(contentId: string | undefined): Promise<number> {
    await this.#loadSession();
    if (!contentId) throw new ConfigError("upload needs the content id of a file in the shared folder (see peer-node ls).");
    return this.#follow(this.client.upload({ contentId, targetPeer: (this.#values.to as string | undefined) ?? "" }));
  }

  async transfers(): Promise<number> {
    await this.#loadSession();
    const { transfers } = await this.client.listTransfers({});
    if (transfers.length === 0) this.#io.stdout.write("No transfers since the pserver started.\n");
    for (const t of transfers) {
      this.#io.stdout.write(`${t.transferId}  ${KIND[t.kind].padEnd(8)} ${STATE[t.state].padEnd(9)} ${percent(t).padStart(4)}  ${t.name || t.contentId}${t.error ? `  (${t.error})` : ""}\n`);
    }
    return 0;
  }

  async cancel(transferId: string | undefined): Promise<number> {
    await this.#loadSession();
    if (!transferId) throw new ConfigError("cancel needs a transfer id (see peer-node transfers).");
    await this.client.cancelTransfer({ transferId });
    this.#io.stdout.write(`Cancelled ${transferId}.\n`);
    return 0;
  }

  /** Shows a transfer's progress until it ends: a bar on a terminal, plain lines otherwise. */
  async #follow(stream: AsyncIterable<{ progress?: TransferProgress }>): Promise<number> {
    const out = this.#io.stderr;
    const tty = out.isTTY === true;
    let last: TransferProgress | undefined;
    let lastLineMs = 0;
    let lastState: TransferState | undefined;
    for await (const { progress } of stream) {
      if (!progress) continue;
      last = progress;
      if (this.#values.detach) {
        this.#io.stdout.write(`Started ${KIND[progress.kind]} ${progress.transferId}; it goes on in the pserver.\n`);
        return 0;
      }
      if (tty) {
        out.write(`\r${bar(progress, 30)}\x1b[K`);
      } else if (progress.state !== lastState || Date.now() - lastLineMs >= 1000) {
        out.write(`${STATE[progress.state]} ${percent(progress)} ${formatBytes(Number(progress.bytesDone))}/${formatBytes(Number(progress.bytesTotal))}\n`);
        lastLineMs = Date.now();
      }
      lastState = progress.state;
    }
    if (tty) out.write("\n");
    if (!last) throw new Error("The pserver ended the stream without any progress.");
    const who = last.kind === TransferKind.UPLOAD && last.targetPeer ? ` to ${last.targetPeer}` : "";
    if (last.state === TransferState.COMPLETED) {
      this.#io.stdout.write(`Done: ${last.name || last.contentId}${who} (${formatBytes(Number(last.bytesTotal))}).\n`);
      return 0;
    }
    this.#io.stderr.write(`${STATE[last.state]}: ${last.error || "the transfer did not complete"}${who}\n`);
    return 1;
  }

  async #loadSession(required = true): Promise<void> {
    const sessions = await readSessions(this.tokenFile);
    this.#token = sessions[this.url]?.token;
    if (!this.#token && required) {
      throw new PeerError("SESSION_EXPIRED", `No session for ${this.url}: run peer-node login --url ${this.url} first.`);
    }
  }

  async #saveSession(session: StoredSession | undefined): Promise<void> {
    const sessions = await readSessions(this.tokenFile);
    if (session) sessions[this.url] = session;
    else delete sessions[this.url];
    // Owner-only: the token commands the pserver.
    await mkdir(path.dirname(this.tokenFile), { recursive: true, mode: 0o700 });
    const tmp = `${this.tokenFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(sessions, null, 2) + "\n", { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.tokenFile);
  }
}

async function readSessions(file: string): Promise<Record<string, StoredSession>> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
    const out: Record<string, StoredSession> = {};
    for (const [url, v] of Object.entries(parsed as Record<string, unknown>)) {
      const s = v as Partial<StoredSession> | null;
      if (s && typeof s.token === "string" && typeof s.peerName === "string") out[url] = { token: s.token, peerName: s.peerName };
    }
    return out;
  } catch {
    return {};
  }
}

/** Reads a password: hidden on a terminal, one line from a pipe otherwise. */
async function askPassword(io: CliIo, prompt: string): Promise<string> {
  const rl = createInterface({ input: io.stdin, output: io.stdin.isTTY ? io.stderr : undefined, terminal: io.stdin.isTTY === true });
  if (io.stdin.isTTY) {
    io.stderr.write(prompt);
    // Echo nothing while the password is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  }
  try {
    const line = await new Promise<string>((resolve, reject) => {
      rl.once("line", resolve);
      rl.once("close", () => reject(new ConfigError("No password given (use --password, PEER_PASSWORD, or type it).")));
    });
    if (io.stdin.isTTY) io.stderr.write("\n");
    return line;
  } finally {
    rl.close();
  }
}

const KIND: Record<TransferKind, string> = {
  [TransferKind.UNSPECIFIED]: "?",
  [TransferKind.DOWNLOAD]: "download",
  [TransferKind.UPLOAD]: "upload",
  [TransferKind.IMPORT]: "import",
};

const STATE: Record<TransferState, string> = {
  [TransferState.UNSPECIFIED]: "?",
  [TransferState.QUEUED]: "queued",
  [TransferState.RUNNING]: "running",
  [TransferState.VERIFYING]: "verifying",
  [TransferState.COMPLETED]: "completed",
  [TransferState.FAILED]: "failed",
  [TransferState.CANCELLED]: "cancelled",
};

function percent(t: TransferProgress): string {
  const total = Number(t.bytesTotal);
  if (total === 0) return t.state === TransferState.COMPLETED ? "100%" : "  ?%";
  return `${Math.floor((Number(t.bytesDone) * 100) / total)}%`;
}

function bar(t: TransferProgress, width: number): string {
  const total = Number(t.bytesTotal);
  const filled = total > 0 ? Math.min(width, Math.round((Number(t.bytesDone) * width) / total)) : 0;
  const eta = t.etaSeconds > 0 ? ` ETA ${Math.ceil(t.etaSeconds)}s` : "";
  const rate = t.rateBytesPerSecond > 0 ? ` ${formatBytes(t.rateBytesPerSecond)}/s` : "";
  const from = t.sources.length > 0 ? ` [${t.sources.join(",")}]` : "";
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent(t).padStart(4)} ${formatBytes(Number(t.bytesDone))}/${formatBytes(total)}${rate}${eta} ${STATE[t.state]}${from}`;
}

/** Bytes for a person: 1.5 MiB. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Prints an error for a person and picks the exit code (2 for usage and configuration). */
function report(err: unknown, io: CliIo): number {
  if (err instanceof ConfigError || (err instanceof TypeError && (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) {
    io.stderr.write(`${err.message}\n(peer-node --help lists the commands and options)\n`);
    return 2;
  }
  if (err instanceof PeerError) {
    // Found here, before any call: named by its code as a pserver's answer would be.
    io.stderr.write(`${Code[connectCodeOf(err.code)]}: ${err.message}\n`);
    return 1;
  }
  if (err instanceof ConnectError) {
    // Every answer of a pserver carries a reason: an Unavailable or Unknown without one comes from the
    // client's own transport (refused, reset, no route) or a proxy, so the pserver was not reached.
    const reason = reasonOf(err);
    const unreachable = reason === undefined && (err.code === Code.Unavailable || err.code === Code.Unknown);
    const hint = reason === "SESSION_EXPIRED" ? " (run peer-node login)" : "";
    io.stderr.write(unreachable ? `Cannot reach the pserver: ${err.rawMessage}\n` : `${Code[err.code]}: ${err.rawMessage}${hint}\n`);
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

// Run when executed directly (`node --import tsx src/cli.ts ...`); bin/peer-node.js calls main() itself.
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
