// What the benchmark programs share (run.ts, variants.ts): the test file, warmed memory, and the
// processes they measure, each started as the pserver runs.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { link, mkdir, open, rm, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { bundle, WORKERS } from "../bin/bundle.js";
import { PSERVER_NODE_FLAGS, pserverEnv } from "../bin/node-flags.js";
import { contentIdOfManifest, pieceSizeFor } from "../src/store/pieces.js";
import { PIPELINE_WORKERS } from "./pipelines-protocol.js";

export const MiB = 1024 * 1024;
const children = new Set<ChildProcess>();

/** Writes `size` random bytes; returns the content id (docs/content-ids.md). */
export async function makeFile(path: string, size: number): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, "w");
  const pieceSize = pieceSizeFor(size);
  const hashes: Buffer[] = [];
  // Whole pieces per write (16 MiB is a multiple of every piece size), each piece hashed once.
  const chunk = Buffer.allocUnsafe(Math.max(16 * MiB, pieceSize));
  for (let done = 0; done < size; done += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, size - done));
    randomFillSync(part);
    for (let at = 0; at < part.length; at += pieceSize) hashes.push(createHash("sha256").update(part.subarray(at, at + pieceSize)).digest());
    await fh.write(part);
  }
  await fh.close();
  const old = new Date(Date.now() - 60_000);
  await utimes(path, old, old);
  return contentIdOfManifest(size, pieceSize, hashes);
}

/**
 * Writes and deletes a scratch file of `bytes`, so that the run after it writes into memory the kernel
 * has just used. Why: this VM's balloon driver hands freed memory back to its host within seconds, and
 * the first write into memory that went back costs 1.1-1.9 CPU-s per GiB instead of ~0.25 (measured
 * with 1 MiB pwrites, 2026-11-26). Which run met which memory was luck: the same download varied from
 * 230 to 360 MB/s. Run before every timed run of every kind, it makes each run pay the same.
 */
export async function warmMemory(root: string, bytes: number): Promise<void> {
  const path = join(root, "warm.bin");
  const fh = await open(path, "w");
  const block = Buffer.alloc(MiB, 1);
  for (let at = 0; at < bytes; at += MiB) await fh.write(block, 0, MiB, at);
  await fh.close();
  await rm(path);
}

/** The bundles of the benchmark's programs (made once per run, in peer-node/dist where imports resolve). */
const bundles = new Map<string, Promise<string>>();

/**
 * Runs a benchmark program as the pserver runs (bin/peer-node.js): bundled for plain Node, no tsx loader
 * in the process whose memory is measured, with the pserver's Node flags and environment, plus `env` (the
 * fetcher's tuning knobs, say). Resolves with its first stdout line matching `pattern`.
 */
export async function start(
  script: string,
  args: string[],
  pattern: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  // Every program gets every worker thread beside it (a download's piece worker, the pipelines' threads).
  if (!bundles.has(script)) bundles.set(script, bundle(join("bench", script), `bench-${script.replace(/\.ts$/, "")}`, undefined, { ...WORKERS, ...PIPELINE_WORKERS }));
  const file = await bundles.get(script)!;
  // With the pserver's Node flags and environment, the raw baseline's processes too: the same runtime on both sides.
  // BENCH_NODE_FLAGS: more Node/V8 flags for this process (variants.ts tries runtime flags this way;
  // NODE_OPTIONS refuses most V8 flags).
  const extraFlags = (env.BENCH_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...PSERVER_NODE_FLAGS, ...extraFlags, file, ...args], { stdio: ["ignore", "pipe", "inherit"], env: { ...pserverEnv(), ...env } });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = pattern.exec(out);
      if (m) resolve({ child, match: m });
    });
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}) before printing ${pattern}: ${out}`)));
  });
}

/** Stops a child; resolves with the figures it printed as "stats {...}" on the way out, if any. */
export async function stop(child: ChildProcess): Promise<{ cpuSeconds: number; peakRssBytes: number } | undefined> {
  if (child.exitCode !== null) return undefined;
  let out = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
  const m = /stats (\{.*\})/.exec(out);
  return m ? JSON.parse(m[1]!) : undefined;
}

/** Starts a seeder sharing `folder`; resolves with its URL. */
export async function seeder(root: string, name: string, file: string, uploadBytesPerSecond?: number, env: NodeJS.ProcessEnv = {}) {
  const folder = join(root, name, "shared");
  await mkdir(folder, { recursive: true });
  await link(file, join(folder, "payload.bin")); // a hard link: no extra disk space
  const { child, match } = await start("seeder.ts", [JSON.stringify({ folder, dataDir: join(root, name, "data"), uploadBytesPerSecond })], /ready (\S+)\n/, env);
  return { child, address: match[1]! };
}

/** Downloads `contentId` in a fresh fetcher process from the given holders (`env`: see fetcher.ts). */
export async function fetch(root: string, name: string, contentId: string, holders: Array<{ name: string; address: string }>, env: NodeJS.ProcessEnv = {}) {
  const folder = join(root, name, "shared");
  const { child, match } = await start("fetcher.ts", [JSON.stringify({ folder, dataDir: join(root, name, "data"), contentId, holders })], /(\{.*\})\n/, env);
  const result = JSON.parse(match[1]!) as {
    state: string;
    error: string;
    bytes: number;
    seconds: number;
    baselineRssBytes: number;
    peakRssBytes: number;
    vmHwmBytes: number;
    refetched: number;
    cpuSeconds: number;
    minorFaults: number;
    /** CPU seconds of each thread during the download, by bench/threads.ts's label. */
    threadCpuSeconds: Array<[string, number]>;
  };
  await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
  if (result.state !== "completed") throw new Error(`download ${result.state}: ${result.error}`);
  await rm(join(root, name), { recursive: true, force: true });
  return result;
}

export const mbps = (bytes: number, seconds: number) => bytes / seconds / 1e6;
export const fmt = (n: number) => n.toFixed(1);
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Kills every benchmark process still running (the benchmark failed or ended). */
export function killChildren(): void {
  for (const c of children) c.kill("SIGKILL");
}
