// The pserver a user runs, measured: a real directory (in this process), a seeder and a downloader each
// started as `peer-node/bin/peer-node.js serve` (its shebang's Node flags and environment, its bundle),
// and one download through the downloader's ClientService, as a tab or the CLI asks for it. The
// downloader's peak RSS is VmHWM from /proc/<pid>/status, read after the download while it still runs:
// the whole process (gRPC server, directory link, store, downloader, piece worker), not a harness.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { link, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { startDirectory } from "@p2p/server";
import { ClientService, TransferState } from "../src/gen.js";
import { MiB } from "./harness.js";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "peer-node.js");
const PASSWORD = "bench-password-1";

/** What one download by the real pserver measured. */
export interface RealPserverRun {
  readonly bytes: number;
  readonly seconds: number;
  /** VmRSS of the downloader once it was online, before the download. */
  readonly idleRssBytes: number;
  /** VmHWM of the downloader after the download (its peak over its whole life). */
  readonly vmHwmBytes: number;
  /** CPU seconds (user + system, all threads) the downloader spent during the download. */
  readonly cpuSeconds: number;
}

/** A `kB` field of /proc/<pid>/status, in bytes. */
function statusBytes(pid: number, field: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU seconds (utime + stime) of a process, all its threads. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Starts `peer-node serve` as a user would; resolves once it prints its URL. */
async function serve(root: string, name: string, directoryUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const args = ["serve", "--name", name, "--password", PASSWORD, "--port", "0", "--log-level", "warn"];
  args.push("--shared-dir", join(root, name, "shared"), "--data-dir", join(root, name, "data"), "--directory-url", directoryUrl);
  // The file itself, so its shebang decides the Node flags and environment, as for a user.
  const child = spawn(BIN, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_OPTIONS: "" } });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /pserver "\S+" on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once("exit", (code) => reject(new Error(`peer-node serve (${name}) exited (${code}) before it was up: ${out}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

/** Downloads `file` (content id `contentId`) from a seeder pserver into a downloader pserver, both real. */
export async function realPserverDownload(
  root: string,
  file: string,
  contentId: string,
  bytes: number,
  inspect?: (pid: number) => void,
): Promise<RealPserverRun> {
  const base = join(root, "real");
  const directory = await startDirectory({ dataDir: join(base, "directory"), host: "127.0.0.1", port: 0, logLevel: "silent", scryptCostLog2: 10 });
  const children: ChildProcess[] = [];
  try {
    await mkdir(join(base, "seed", "shared"), { recursive: true });
    await link(file, join(base, "seed", "shared", "payload.bin"));
    const seed = await serve(base, "seed", directory.url);
    children.push(seed.child);
    const me = await serve(base, "me", directory.url);
    children.push(me.child);
    // The seeder hashes the file in the background after start, then publishes it.
    for (let i = 0; i < 600; i++) {
      const res = await globalThis.fetch(`${directory.url}/api/v1/files/${contentId}`);
      if (res.ok) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const client = createClient(ClientService, createConnectTransport({ baseUrl: me.url, httpVersion: "1.1" }));
    const { sessionToken } = await client.login({ username: "me", password: PASSWORD });
    const headers = { authorization: `Bearer ${sessionToken}` };
    const pid = me.child.pid!;
    const idleRssBytes = statusBytes(pid, "VmRSS");
    const cpuBefore = cpuSecondsOf(pid);
    const started = performance.now();
    let state = TransferState.UNSPECIFIED;
    let error = "";
    for await (const { progress } of client.download({ contentId }, { headers })) {
      if (!progress) continue;
      state = progress.state;
      error = progress.error;
    }
    const seconds = (performance.now() - started) / 1000;
    if (state !== TransferState.COMPLETED) throw new Error(`the real pserver's download ended ${TransferState[state]}: ${error}`);
    inspect?.(pid);
    return { bytes, seconds, idleRssBytes, vmHwmBytes: statusBytes(pid, "VmHWM"), cpuSeconds: cpuSecondsOf(pid) - cpuBefore };
  } finally {
    for (const child of children) await stopChild(child);
    await directory.close();
  }
}

/** For a line of output. */
export const mibOf = (bytes: number) => (bytes / MiB).toFixed(1);
