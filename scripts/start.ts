// `npm start`: the whole system on its embedded defaults, in one process tree:
// a directory (SQLite in the data directory) and two pservers, alice and bob, each with its own shared
// folder, logged in by themselves, each serving its browser tab at its own URL.
//
// Configuration (environment): P2P_DATA_DIR (default ./.data), P2P_HOST (default 127.0.0.1),
// DIRECTORY_PORT (7000), ALICE_PORT (7001), BOB_PORT (7002). Port 0 picks free ports.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startPserver, type Pserver } from "@p2p/peer-node";
import { startDirectory } from "@p2p/server";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = path.resolve(process.env.P2P_DATA_DIR ?? path.join(root, ".data"));
const host = process.env.P2P_HOST ?? "127.0.0.1";
const webDir = path.join(root, "web", "dist");

/** Reads a port from the environment, failing fast with a clear message. */
function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`${name} must be a port number from 0 to 65535, got "${raw}".`);
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
  console.log("Building the web app (web/dist) once...");
  const build = spawnSync("npm", ["run", "build", "-w", "web"], { cwd: root, stdio: "inherit" });
  if (build.status !== 0) {
    console.error("Building the web app failed; see the output above.");
    process.exit(1);
  }
}

const directory = await startDirectory({
  dataDir: path.join(dataDir, "directory"),
  host,
  port: portFromEnv("DIRECTORY_PORT", 7000),
});

const peers: Array<{ name: string; password: string; peer: Pserver }> = [];
for (const [name, port] of [
  ["alice", portFromEnv("ALICE_PORT", 7001)],
  ["bob", portFromEnv("BOB_PORT", 7002)],
] as const) {
  const password = await passwordFor(name);
  const peer = await startPserver({
    name,
    password,
    directoryUrl: directory.url,
    sharedDir: path.join(dataDir, name, "shared"),
    dataDir: path.join(dataDir, name, "state"),
    host,
    port,
    webDir,
  });
  peers.push({ name, password, peer });
}

console.log(`
P2P is running (data in ${dataDir}).
  directory  ${directory.url}   (REST: ${directory.url}/docs)
${peers.map(({ name, password, peer }) => `  ${name.padEnd(9)}  ${peer.url}   (open in a browser tab; log in as ${name} / ${password})`).join("\n")}
Put files in ${path.join(dataDir, "<peer>", "shared")} or add them from a tab. Ctrl+C stops everything.
`);

let stopping = false;
/** Closes peers first (they log out), then the directory. */
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping...`);
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  await Promise.allSettled(peers.map(({ peer }) => peer.close()));
  await directory.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
