// `npm start`: the whole system on its embedded defaults: a directory (SQLite in the data directory, in
// this process) and two pservers, alice and bob, each a Node process of its own (`peer-node serve`, as a
// user would run it), each with its own shared folder, logged in by itself, serving its tab at its URL.
// Their log lines (pino JSON) are shown one readable line each on a terminal, and passed through as
// JSON lines when the output is not a terminal or when asked (--json, LOG_FORMAT=json).
//
// Configuration (environment): P2P_DATA_DIR (default ./.data), P2P_HOST (default 127.0.0.1),
// DIRECTORY_PORT (7000), ALICE_PORT (7001), BOB_PORT (7002), LOG_FORMAT (pretty or json),
// DIRECTORY_LOG_LEVEL (warn). Port 0 picks free ports.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startDirectory, type LogLevel } from "@p2p/server";
import { pino } from "pino";
import { PSERVER_NODE_FLAGS, pserverEnv } from "../peer-node/bin/node-flags.js";
import { chooseLogFormat, formatLine } from "./log-lines.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = path.resolve(process.env.P2P_DATA_DIR ?? path.join(root, ".data"));
const host = process.env.P2P_HOST ?? "127.0.0.1";
const webDir = path.join(root, "web", "dist");
const logFormat = chooseLogFormat(process.argv.slice(2), process.env, process.stdout.isTTY === true);
const color = logFormat === "pretty" && process.stdout.isTTY === true && process.env.NO_COLOR === undefined;

/** Writes one line a process printed (or this script says) to stdout or stderr, in the chosen format. */
function show(line: string, source: string, to: NodeJS.WriteStream = process.stdout): void {
  to.write(`${formatLine(line, source, logFormat, color && to.isTTY === true)}\n`);
}

/** What this script itself says: plain sentences on a terminal, records among the JSON lines. */
function say(text: string, to: NodeJS.WriteStream = process.stdout, fields: Record<string, unknown> = {}): void {
  if (logFormat === "pretty") to.write(`${text}\n`);
  else to.write(`${JSON.stringify({ level: to === process.stderr ? 50 : 30, time: Date.now(), name: "npm-start", msg: text, ...fields })}\n`);
}

/** Reads a port from the environment, failing fast with a clear message. */
function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    say(`${name} must be a port number from 0 to 65535, got "${raw}".`, process.stderr);
    process.exit(2);
  }
  return port;
}

/** The peer's password, made once per data directory and kept beside its state (never printed in logs). */
async function passwordFor(name: string): Promise<string> {
  const file = path.join(dataDir, name, "password.txt");
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const password = randomBytes(9).toString("base64url");
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

if (!existsSync(path.join(webDir, "index.html"))) {
  say("Building the web app (web/dist) once...");
  // Its output goes to stderr: on stdout it would break the JSON lines.
  const build = spawnSync("npm", ["run", "build", "-w", "web"], { cwd: root, stdio: ["ignore", process.stderr, "inherit"] });
  if (build.status !== 0) {
    say("Building the web app failed; see the output above.", process.stderr);
    process.exit(1);
  }
}

// The directory runs in this process: its logger writes through the same formatter as the peers'
// lines. Same level default and redaction as the directory's own logger (createLogger in server/).
const directoryLogger = pino(
  {
    level: (process.env.DIRECTORY_LOG_LEVEL ?? "warn") as LogLevel,
    base: { service: "directory" },
    redact: { paths: ["req.headers.authorization", "*.password", "*.token", "*.ticket"], censor: "[redacted]" },
  },
  {
    write(chunk: string): void {
      for (const line of chunk.split("\n")) if (line !== "") show(line, "directory");
    },
  },
);
const directory = await startDirectory({
  dataDir: path.join(dataDir, "directory"),
  host,
  port: portFromEnv("DIRECTORY_PORT", 7000),
  logger: directoryLogger,
});

const peerNodeBin = path.join(root, "peer-node", "bin", "peer-node.js");
const peers: Array<{ name: string; password: string; url: string; child: ChildProcess }> = [];
/** Every pserver process still running, started or still starting (Ctrl+C may come mid-start). */
const children = new Set<ChildProcess>();
let stopping = false;

/** Starts `peer-node serve` for one peer; resolves with its URL once it listens. */
async function startPeer(name: string, port: number): Promise<{ name: string; password: string; url: string; child: ChildProcess }> {
  const password = await passwordFor(name);
  const args = ["serve", "--name", name, "--host", host, "--port", String(port), "--directory-url", directory.url, "--web-dir", webDir];
  args.push("--shared-dir", path.join(dataDir, name, "shared"), "--data-dir", path.join(dataDir, name, "state"));
  // The password goes by environment, never on a command line that `ps` shows. Its own process group:
  // Ctrl+C reaches only this script, which stops each peer once (a second signal would make a peer skip
  // its logout); the IPC channel makes a peer stop by itself should this script die without stopping it.
  const child = spawn(process.execPath, [...PSERVER_NODE_FLAGS, peerNodeBin, ...args], {
    env: { ...pserverEnv(), PEER_PASSWORD: password },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    detached: true,
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const url = await new Promise<string>((resolve, reject) => {
    for (const [from, to] of [
      [child.stdout!, process.stdout],
      [child.stderr!, process.stderr],
    ] as const) {
      createInterface({ input: from }).on("line", (line) => {
        const listening = /^pserver ".*" on (\S+)/.exec(line);
        if (listening) resolve(listening[1]!);
        show(line, name, to);
      });
    }
    child.once("exit", (code, signal) => {
      reject(new Error(`${name}'s pserver exited (${signal ?? code}) before it was up; see its output above.`));
      if (!stopping) {
        say(`${name}'s pserver stopped (${signal ?? code}); stopping everything.`, process.stderr);
        void stop("exit", 1);
      }
    });
  });
  return { name, password, url, child };
}

// Before the peers start: a Ctrl+C while they start must stop what has started, not kill this script.
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));

try {
  for (const [name, port] of [
    ["alice", portFromEnv("ALICE_PORT", 7001)],
    ["bob", portFromEnv("BOB_PORT", 7002)],
  ] as const) {
    peers.push(await startPeer(name, port));
  }
} catch (err) {
  say((err as Error).message, process.stderr);
  await stop("error", 1);
}

/**
 * A fresh peer takes no push. The README's push example sends between alice and bob, so on their first
 * run each is set to take pushes from the other (through ClientService in Connect JSON, as curl would);
 * a setting the user changed since is left alone.
 */
async function acceptEachOther(): Promise<void> {
  for (const me of peers) {
    const other = peers.find((p) => p !== me)!.name;
    const call = async (method: string, body: unknown, token?: string) => {
      const res = await fetch(`${me.url}/p2p.v1.ClientService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} at ${me.name}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as { sessionToken?: string; settings?: { pushPolicy?: { accept?: string; from?: string[] } } };
    };
    const { sessionToken } = await call("Login", { username: me.name, password: me.password });
    const current = (await call("GetSettings", {}, sessionToken)).settings?.pushPolicy ?? {};
    const untouched = (current.accept ?? "PUSH_ACCEPT_NOBODY") === "PUSH_ACCEPT_NOBODY" && (current.from ?? []).length === 0;
    if (untouched) await call("UpdateSettings", { pushPolicy: { ...current, accept: "PUSH_ACCEPT_LISTED", from: [other] } }, sessionToken);
    // No Logout: it would take the peer offline at the directory. The session expires when idle.
  }
}

if (!stopping) {
  try {
    await acceptEachOther();
  } catch (err) {
    say(`Could not set alice and bob to take pushes from each other: ${(err as Error).message}`, process.stderr);
  }
}

if (!stopping && logFormat === "json") {
  // JSON lines go to files and log shippers: the passwords stay in their files there.
  say("directory ready", process.stdout, { url: directory.url, dataDir });
  for (const { name, url } of peers) say("peer ready", process.stdout, { peer: name, url, passwordFile: path.join(dataDir, name, "password.txt") });
} else if (!stopping) {
  console.log(`
P2P is running (data in ${dataDir}).
  directory  ${directory.url}   (REST: ${directory.url}/docs)
${peers.map(({ name, password, url }) => `  ${name.padEnd(9)}  ${url}   (open in a browser tab; log in as ${name} / ${password})`).join("\n")}
Put files in ${path.join(dataDir, "<peer>", "shared")} or add them from a tab. Ctrl+C stops everything.
`);
}

/** Stops the pservers first (they log out), then the directory. */
async function stop(reason: string, code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (reason !== "exit" && reason !== "error") say(`${logFormat === "pretty" ? "\n" : ""}${reason}: stopping...`);
  const force = setTimeout(() => {
    for (const child of children) child.kill("SIGKILL");
    process.exit(1);
  }, 10_000);
  force.unref();
  await Promise.allSettled(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        }),
    ),
  );
  await directory.close();
  process.exit(code);
}
