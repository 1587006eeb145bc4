// Benchmark: what Chromium's renderer spends per GiB to receive bytes in a dedicated worker and to
// hash them, by reader (BYOB, default, arrayBuffer(), XMLHttpRequest), body size, calls at once per
// worker and workers, and by SHA-256 (hash-wasm against WebCrypto); then the download's own loop
// (BYOB read, digest, OPFS write) in main's shape and this one's. A bare node:http server sends random
// bytes; CPU seconds and minor page faults of each Chromium process kind come from /proc. The figures
// behind piece-fetchers.ts and piece-check.ts (docs/browser-peers.md, Speed). Prints figures, asserts nothing.
//   node --import tsx bench/fetch-reads.ts        (BENCH_REPEAT=2 to run the list twice)
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { chromium } from "playwright-core";
import { CHROMIUM_FLAGS, CHROMIUM_PATH, chromiumEnv } from "../e2e/harness.js";

const MIB = 1024 * 1024;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);

/** One measured job, run by the worker below. */
interface Job {
  kind: "read" | "hash" | "pipe";
  how: "byob" | "default" | "arrayBuffer" | "xhr" | "wasm" | "subtle";
  /** MiB moved in all. */
  totalMiB: number;
  /** read, pipe: MiB per call; hash: KiB per digest. */
  size: number;
  callsAtOnce?: number;
  workers?: number;
}

const JOBS: Job[] = [
  { kind: "hash", how: "wasm", totalMiB: 256, size: 1024 },
  { kind: "hash", how: "subtle", totalMiB: 256, size: 1024 },
  { kind: "hash", how: "subtle", totalMiB: 256, size: 512 },
  { kind: "read", how: "byob", totalMiB: 512, size: 64, callsAtOnce: 1 },
  { kind: "read", how: "byob", totalMiB: 512, size: 64, callsAtOnce: 2 },
  { kind: "read", how: "byob", totalMiB: 512, size: 64, callsAtOnce: 1, workers: 2 },
  { kind: "read", how: "byob", totalMiB: 512, size: 8, callsAtOnce: 2 },
  { kind: "read", how: "default", totalMiB: 512, size: 64, callsAtOnce: 2 },
  { kind: "read", how: "arrayBuffer", totalMiB: 512, size: 64, callsAtOnce: 2 },
  { kind: "read", how: "xhr", totalMiB: 512, size: 64, callsAtOnce: 2 },
  { kind: "pipe", how: "wasm", totalMiB: 512, size: 64, callsAtOnce: 2, workers: 2 },
  { kind: "pipe", how: "subtle", totalMiB: 512, size: 64, callsAtOnce: 1, workers: 4 },
];

// The worker, served as a classic script (hash-wasm's UMD build comes with importScripts).
const WORKER_JS = String.raw`
importScripts("/sha256.js");
let hasher;
let access;
async function readByob(url) {
  const reader = (await fetch(url)).body.getReader({ mode: "byob" });
  let memory = new ArrayBuffer(1 << 20);
  let bytes = 0;
  for (;;) {
    const { value, done } = await reader.read(new Uint8Array(memory));
    if (done) return bytes;
    bytes += value.byteLength;
    memory = value.buffer;
  }
}
async function readDefault(url) {
  const reader = (await fetch(url)).body.getReader();
  let bytes = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
  }
}
async function readArrayBuffer(url) {
  return (await (await fetch(url)).arrayBuffer()).byteLength;
}
function readXhr(url) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("GET", url);
    request.responseType = "arraybuffer";
    request.onload = () => resolve(request.response.byteLength);
    request.onerror = reject;
    request.send();
  });
}
async function digest(how, bytes) {
  if (how === "wasm") return hasher.init().update(bytes).digest("binary")[0];
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))[0];
}
/** The download's loop: 1 MiB pieces read with BYOB, hashed, written into OPFS. */
async function pipe(url, how) {
  const reader = (await fetch(url)).body.getReader({ mode: "byob" });
  let memory = new ArrayBuffer(1 << 20);
  let bytes = 0;
  for (;;) {
    let filled = 0;
    let done = false;
    while (filled < 1 << 20) {
      const read = await reader.read(new Uint8Array(memory, filled));
      if (read.value) memory = read.value.buffer;
      if (read.done) { done = true; break; }
      filled += read.value.byteLength;
    }
    if (filled > 0) {
      const piece = new Uint8Array(memory, 0, filled);
      await digest(how, piece);
      access.write(piece, { at: bytes % (256 << 20) });
      bytes += filled;
    }
    if (done || filled === 0) return bytes;
  }
}
const readers = { byob: readByob, default: readDefault, arrayBuffer: readArrayBuffer, xhr: readXhr };
onmessage = async ({ data: job }) => {
  hasher ??= await hashwasm.createSHA256();
  if (job.kind === "hash") {
    const size = job.size * 1024;
    const memory = new Uint8Array(size);
    crypto.getRandomValues(memory.subarray(0, 65536));
    const count = Math.round((job.totalMiB * 1024) / job.size);
    for (let i = 0; i < count; i++) await digest(job.how, memory);
    postMessage(count * size);
    return;
  }
  if (job.kind === "pipe" && access === undefined) {
    const root = await navigator.storage.getDirectory();
    const file = await root.getFileHandle("bench-" + Math.random(), { create: true });
    access = await file.createSyncAccessHandle();
  }
  const calls = job.totalMiB / job.size;
  let started = 0;
  let bytes = 0;
  const lane = async () => {
    while (started < calls) {
      started++;
      const url = "/bytes?mib=" + job.size + "&n=" + Math.random();
      bytes += job.kind === "pipe" ? await pipe(url, job.how) : await readers[job.how](url);
    }
  };
  await Promise.all(Array.from({ length: job.callsAtOnce ?? 1 }, lane));
  postMessage(bytes);
};
`;

interface Usage {
  seconds: number;
  faults: number;
}

/** CPU seconds and minor faults of every Chromium process, by kind (renderer, network, browser...). */
function chromiumUsage(): Map<string, Usage> {
  const byKind = new Map<string, Usage>();
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let cmdline: string;
    let stat: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    if (!cmdline.includes("chromium")) continue;
    const kind = /--utility-sub-type=([^\0 .]+)/.exec(cmdline)?.[1] ?? /--type=([^\0 ]+)/.exec(cmdline)?.[1] ?? "browser";
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const usage = byKind.get(kind) ?? { seconds: 0, faults: 0 };
    usage.seconds += (Number(fields[11]) + Number(fields[12])) / 100;
    usage.faults += Number(fields[7]);
    byKind.set(kind, usage);
  }
  return byKind;
}

const block = randomBytes(MIB);
const hashWasm = readFileSync(createRequire(import.meta.url).resolve("hash-wasm/dist/sha256.umd.min.js"));
const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? "/", "http://bench");
  const send = (type: string, body: string | Buffer): void => {
    response.setHeader("content-type", type);
    response.end(body);
  };
  if (url.pathname === "/") return send("text/html", "<!doctype html><title>fetch reads</title>");
  if (url.pathname === "/worker.js") return send("text/javascript", WORKER_JS);
  if (url.pathname === "/sha256.js") return send("text/javascript", hashWasm);
  if (url.pathname !== "/bytes") return void response.writeHead(404).end();
  const mib = Number(url.searchParams.get("mib"));
  response.writeHead(200, { "content-type": "application/octet-stream", "content-length": mib * MIB });
  let sent = 0;
  const pump = (): void => {
    while (sent < mib) {
      sent++;
      if (!response.write(block)) return void response.once("drain", pump);
    }
    response.end();
  };
  pump();
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS, env: chromiumEnv(), timeout: 60_000 });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  console.log(`load average at start: ${loadavg().map((value) => value.toFixed(2)).join(" ")} (OPFS of an incognito context: its writes cost the browser process more than a profile on disk)`);
  for (let round = 0; round < REPEAT; round++) {
    for (const job of JOBS) {
      const before = chromiumUsage();
      const started = performance.now();
      const bytes = await page.evaluate(async (job: Job) => {
        const workers = Array.from({ length: job.workers ?? 1 }, () => new Worker("/worker.js"));
        const share = { ...job, totalMiB: job.totalMiB / workers.length };
        const parts = await Promise.all(workers.map((worker) => new Promise<number>((resolve) => ((worker.onmessage = (event: MessageEvent<number>) => resolve(event.data)), worker.postMessage(share)))));
        for (const worker of workers) worker.terminate();
        return parts.reduce((sum, part) => sum + part, 0);
      }, job);
      const ms = performance.now() - started;
      const after = chromiumUsage();
      const gib = bytes / (1024 * MIB);
      const cpu = (kind: string): string => (((after.get(kind)?.seconds ?? 0) - (before.get(kind)?.seconds ?? 0)) / gib).toFixed(2);
      const faults = ((after.get("renderer")?.faults ?? 0) - (before.get("renderer")?.faults ?? 0)) / (bytes / MIB);
      const shape = `${job.kind} ${job.how} ${job.size}${job.kind === "hash" ? " KiB" : ` MiB calls, ${job.callsAtOnce ?? 1} at once x ${job.workers ?? 1} workers`}`;
      console.log(
        `${shape.padEnd(52)} ${(bytes / 1e3 / ms).toFixed(0).padStart(5)} MB/s   CPU-s/GiB renderer ${cpu("renderer")}, network ${cpu("network")}, browser ${cpu("browser")}   renderer faults/MiB ${faults.toFixed(0)}   load ${loadavg()[0]!.toFixed(2)}`,
      );
    }
  }
} finally {
  await browser.close();
  server.close();
}
