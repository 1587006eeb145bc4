// The pserver a user runs, measured: a real directory (in this process), a seeder and a downloader each
// started as `peer-node/bin/peer-node.js serve` (its shebang's Node flags and environment, its bundle),
// and one download through the downloader's ClientService, as a tab or the CLI asks for it. The
// downloader's peak RSS is VmHWM from /proc/<pid>/status, read after the download while it still runs:
// the whole process (gRPC server, directory link, store, downloader, piece worker), not a harness.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { link, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { startDirectory } from "@p2p/server";
import { PSERVER_NODE_FLAGS, pserverEnv } from "../bin/node-flags.js";
import { ClientService, TransferState } from "../src/gen.js";
import { MiB } from "./harness.js";
import { threadLabel } from "./threads.js";

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
  /** CPU seconds of each of the downloader's threads during the download, by threads.ts's label, largest first. */
  readonly threadCpuSeconds: ReadonlyArray<readonly [name: string, seconds: number]>;
  /** Minor page faults of the downloader during the download. */
  readonly minorFaults: number;
}

/** A `kB` field of /proc/<pid>/status, in bytes. */
function statusBytes(pid: number, field: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Fields of a /proc stat line after the command name (field 3 of proc(5) is [0]). */
function statFields(path: string): { name: string; fields: string[] } {
  const stat = readFileSync(path, "utf8");
  return { name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), fields: stat.slice(stat.lastIndexOf(")") + 2).split(" ") };
}

/** CPU seconds (utime + stime) of a process, all its threads. */
function cpuSecondsOf(pid: number): number {
  const { fields: f } = statFields(`/proc/${pid}/stat`);
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Minor page faults of a process, all its threads. */
function minorFaultsOf(pid: number): number {
  return Number(statFields(`/proc/${pid}/stat`).fields[7]);
}

/** CPU ticks (1/100 s) of each thread of a process, by "tid name". */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const { name, fields: f } = statFields(`/proc/${pid}/task/${tid}/stat`);
      out.set(`${tid} ${name}`, Number(f[11]) + Number(f[12]));
    } catch {
      // The thread ended in between.
    }
  }
  return out;
}

/** Resident memory of a process by mapping name ([heap], [anon], the node binary, ...), largest first, in MiB. */
export function rssByMapping(pid: number): string {
  const groups = new Map<string, number>();
  let name = "";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) name = (m[1] || "[anon]").replace(/^.*\//, "");
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) groups.set(name, (groups.get(name) ?? 0) + Number(rss[1]) * 1024);
  }
  return [...groups].sort((a, b) => b[1] - a[1]).filter(([, b]) => b >= MiB / 2).map(([k, b]) => `${k} ${mibOf(b)}`).join(", ");
}

/** Starts `peer-node serve` as a user would; resolves once it prints its URL. */
async function serve(root: string, name: string, directoryUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const args = ["serve", "--name", name, "--password", PASSWORD, "--port", "0", "--log-level", "warn"];
  args.push("--shared-dir", join(root, name, "shared"), "--data-dir", join(root, name, "data"), "--directory-url", directoryUrl);
  // The file itself, so its shebang decides the Node flags and environment, as for a user.
  // BENCH_REAL_NODE_OPTIONS: NODE_OPTIONS for the downloader only (say `--import ./probe.mjs`; Node 20 refuses --cpu-prof there);
  // BENCH_REAL_NODE_FLAGS: more Node/V8 flags for it (say `--trace-gc` or `--cpu-prof --cpu-prof-dir=/tmp/prof`), given
  // on node's command line beside the shebang's own.
  const me = name === "me";
  const nodeOptions = me ? (process.env.BENCH_REAL_NODE_OPTIONS ?? "") : "";
  const extraFlags = me ? (process.env.BENCH_REAL_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean) : [];
  // BENCH_REAL_GLIBC_TUNABLES: tunables for the downloader only, after the shebang's (a later one wins).
  const tunables = me && process.env.BENCH_REAL_GLIBC_TUNABLES ? { GLIBC_TUNABLES: process.env.BENCH_REAL_GLIBC_TUNABLES } : {};
  const env = { ...process.env, NODE_OPTIONS: nodeOptions, ...tunables };
  const child =
    extraFlags.length > 0
      ? spawn(process.execPath, [...PSERVER_NODE_FLAGS, ...extraFlags, BIN, ...args], { stdio: ["ignore", "pipe", "inherit"], env: pserverEnv(env) })
      : spawn(BIN, args, { stdio: ["ignore", "pipe", "inherit"], env });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      // What the extra flags print (a GC trace, say) goes on to this process's stderr.
      if (extraFlags.length > 0) process.stderr.write(c);
      if (out.length > 65_536) return;
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
  hooks: {
    /**
     * Awaited once both pservers are up and the file is published, right before the download: the
     * benchmark warms memory here (harness.ts, warmMemory), as it does right before each of its other
     * downloads. Warmed earlier, before the pservers start and the seeder hashes the file (seconds), the
     * memory had gone back to this VM's host again and the download's page-cache writes paid its first touch.
     */
    beforeDownload?: () => Promise<void>;
    /** Called with the downloader's pid as the download starts; what it returns is awaited as it ends (a profiler, say). */
    watch?: (pid: number) => () => Promise<void>;
  } = {},
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
    await hooks.beforeDownload?.();
    const pid = me.child.pid!;
    const idleRssBytes = statusBytes(pid, "VmRSS");
    // BENCH_REAL_SMAPS=1: where the resident memory is, online before the download and after it.
    if (process.env.BENCH_REAL_SMAPS) console.log(`   RSS by mapping online before the download: ${rssByMapping(pid)}`);
    const cpuBefore = cpuSecondsOf(pid);
    const faultsBefore = minorFaultsOf(pid);
    // Threads come and go (the piece worker lives as long as its download): each one's last sample counts.
    const ticksBefore = threadTicks(pid);
    const ticksLast = new Map<string, number>();
    const sampleTicks = () => {
      for (const [k, t] of threadTicks(pid)) ticksLast.set(k, t);
    };
    const sampler = setInterval(sampleTicks, 100);
    const unwatch = hooks.watch?.(pid);
    const started = performance.now();
    let state = TransferState.UNSPECIFIED;
    let error = "";
    for await (const { progress } of client.download({ contentId }, { headers })) {
      if (!progress) continue;
      state = progress.state;
      error = progress.error;
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    sampleTicks();
    const threadCpuSeconds = [...ticksLast]
      .map(([k, t]) => [threadLabel(k, pid, ticksBefore), (t - (ticksBefore.get(k) ?? 0)) / 100] as const)
      .filter(([, s]) => s >= 0.01)
      .sort((a, b) => b[1] - a[1]);
    if (state !== TransferState.COMPLETED) throw new Error(`the real pserver's download ended ${TransferState[state]}: ${error}`);
    await unwatch?.();
    if (process.env.BENCH_REAL_SMAPS) console.log(`   RSS by mapping after the download: ${rssByMapping(pid)}`);
    const cpuSeconds = cpuSecondsOf(pid) - cpuBefore;
    const minorFaults = minorFaultsOf(pid) - faultsBefore;
    return { bytes, seconds, idleRssBytes, vmHwmBytes: statusBytes(pid, "VmHWM"), cpuSeconds, threadCpuSeconds, minorFaults };
  } finally {
    for (const child of children) await stopChild(child);
    await directory.close();
  }
}

/** For a line of output. */
export const mibOf = (bytes: number) => (bytes / MiB).toFixed(1);
