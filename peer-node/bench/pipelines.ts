// Two verified raw pipelines on two threads: what a Node download of the raw stream can reach when it
// hashes each 1 MiB piece and the whole file and writes to disk, as ours must, without gRPC or any of
// the downloader's bookkeeping. They bound what a change of our design could gain (issue 4).
//   pipelines.ts <url> <out> ring    ours: the main thread receives HTTP/2 and copies each piece into a
//                                    ring slot, whose memory goes to a worker (transferred) that hashes
//                                    the piece and the whole file, has the thread pool write it, and gives
//                                    the memory back (receive-pieces.ts + piece-ring.ts + piece-worker.ts, bare)
//   pipelines.ts <url> <out> worker  the alternative: HTTP/2 is received in a worker (small heap and young
//                                    generation), which hashes each piece from the received chunks and
//                                    writes them with writev (no copy); a second worker hashes the whole
//                                    file, reading written pieces back from the page cache
// Prints {bytes, seconds, cpuSeconds, peakRssBytes} as raw.ts does; <url> is a raw.ts server.
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { Worker } from "node:worker_threads";
import { HTTP2_INITIAL_WINDOW_BYTES, HTTP2_MAX_FRAME_BYTES, HTTP2_SESSION_WINDOW_BYTES } from "../src/constants.js";

const PIECE = 1024 * 1024;
/** Pieces received but not yet written, at most (the ring's slots; the worker's writes in flight). */
const UNWRITTEN = 7;
const [url, out, mode] = process.argv.slice(2) as [string, string, "ring" | "worker"];
const settings = { initialWindowSize: HTTP2_INITIAL_WINDOW_BYTES, maxFrameSize: HTTP2_MAX_FRAME_BYTES };

// The ring's worker: hashes each piece and the whole file (pieces come in order), writes on the pool.
const RING_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const crypto = require("node:crypto");
const fd = fs.openSync(workerData.out, "w");
const whole = crypto.createHash("sha256");
let pending = 0;
let ending = false;
const end = () => { fs.fdatasyncSync(fd); fs.closeSync(fd); whole.digest(); parentPort.postMessage({ end: true }); };
parentPort.on("message", (m) => {
  if (m.end) { ending = true; if (pending === 0) end(); return; }
  const data = Buffer.from(m.buffer, 0, m.length);
  crypto.createHash("sha256").update(data).digest();
  whole.update(data);
  pending++;
  fs.write(fd, data, 0, m.length, m.index * ${PIECE}, (err) => {
    if (err) throw err;
    pending--;
    parentPort.postMessage({ slot: m.slot, buffer: m.buffer }, [m.buffer]);
    if (ending && pending === 0) end();
  });
});`;

// The receiving worker: HTTP/2 here; each piece hashed from its chunks and written with writev.
const RECEIVE_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const crypto = require("node:crypto");
const http2 = require("node:http2");
const fd = fs.openSync(workerData.out, "w");
const session = http2.connect(workerData.url, { settings: workerData.settings });
session.once("connect", () => session.setLocalWindowSize(workerData.sessionWindow));
const req = session.request({ ":path": "/" });
let chunks = [], filled = 0, index = 0, bytes = 0, pending = 0, ended = false;
let hash = crypto.createHash("sha256");
const finish = () => { fs.fdatasyncSync(fd); fs.closeSync(fd); session.close(); parentPort.postMessage({ end: true, bytes, pieces: index }); };
const flush = () => {
  hash.digest();
  hash = crypto.createHash("sha256");
  const list = chunks, at = index * ${PIECE}, written = index;
  chunks = []; filled = 0; index++; pending++;
  if (pending >= ${UNWRITTEN}) req.pause();
  fs.writev(fd, list, at, (err) => {
    if (err) throw err;
    pending--;
    if (pending < ${UNWRITTEN}) req.resume();
    parentPort.postMessage({ written });
    if (ended && pending === 0) finish();
  });
};
req.on("data", (c) => {
  bytes += c.length;
  for (let at = 0; at < c.length; ) {
    const n = Math.min(c.length - at, ${PIECE} - filled);
    const part = n === c.length ? c : c.subarray(at, at + n);
    hash.update(part);
    chunks.push(part);
    filled += n;
    at += n;
    if (filled === ${PIECE}) flush();
  }
});
req.on("end", () => { ended = true; if (filled > 0) flush(); else if (pending === 0) finish(); });`;

// The whole-file hasher: reads each written piece back, in file order.
const WHOLE_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const crypto = require("node:crypto");
const whole = crypto.createHash("sha256");
const buf = Buffer.allocUnsafe(${PIECE});
const written = new Set();
let fd = -1, next = 0, count = -1;
parentPort.on("message", (m) => {
  if (fd < 0) fd = fs.openSync(workerData.out, "r");
  if (m.end) count = m.pieces; else written.add(m.written);
  while (written.delete(next)) whole.update(buf.subarray(0, fs.readSync(fd, buf, 0, ${PIECE}, next++ * ${PIECE})));
  if (next === count) { whole.digest(); parentPort.postMessage({ end: true }); }
});`;

const started = performance.now();
const cpuBefore = process.cpuUsage();
const bytes = mode === "ring" ? await ring() : await inWorker();
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
process.stdout.write(`${JSON.stringify({ bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 })}\n`);
process.exit(0);

async function ring(): Promise<number> {
  const slots = Array.from({ length: UNWRITTEN }, () => Buffer.from(new ArrayBuffer(PIECE)));
  const worker = new Worker(RING_WORKER, { eval: true, workerData: { out } });
  const free = Array.from({ length: UNWRITTEN }, (_, k) => k);
  const session = http2.connect(url, { settings });
  session.once("connect", () => session.setLocalWindowSize(HTTP2_SESSION_WINDOW_BYTES));
  const req = session.request({ ":path": "/" });
  const queue: Buffer[] = [];
  let queueAt = 0;
  let slot: number | undefined;
  let filled = 0;
  let index = 0;
  let bytes = 0;
  let ended = false;
  let endSent = false;
  const done = new Promise<void>((resolve) => {
    worker.on("message", (m: { slot?: number; buffer?: ArrayBuffer; end?: boolean }) => {
      if (m.end) return resolve();
      slots[m.slot!] = Buffer.from(m.buffer!);
      free.push(m.slot!);
      pump();
    });
  });
  const flush = () => {
    const buffer = slots[slot!]!.buffer;
    worker.postMessage({ slot, buffer, index: index++, length: filled }, [buffer]);
    slot = undefined;
    filled = 0;
  };
  // Copies queued chunks into slots; with every slot taken, stops reading until one comes back.
  function pump(): void {
    while (queue.length > 0) {
      slot ??= free.pop();
      if (slot === undefined) {
        req.pause();
        return;
      }
      const chunk = queue[0]!;
      const n = chunk.copy(slots[slot]!, filled, queueAt, Math.min(chunk.length, queueAt + PIECE - filled));
      queueAt += n;
      filled += n;
      if (queueAt === chunk.length) {
        queue.shift();
        queueAt = 0;
      }
      if (filled === PIECE) flush();
    }
    req.resume();
    if (ended && !endSent) {
      if (filled > 0) flush();
      endSent = true;
      worker.postMessage({ end: true });
    }
  }
  req.on("data", (c: Buffer) => {
    bytes += c.length;
    queue.push(c);
    pump();
  });
  req.on("end", () => {
    ended = true;
    pump();
  });
  await done;
  session.close();
  await worker.terminate();
  return bytes;
}

async function inWorker(): Promise<number> {
  const whole = new Worker(WHOLE_WORKER, { eval: true, workerData: { out } });
  // A 1 MiB semi-space, as the pserver runs (bin/node-flags.js says why).
  const receiver = new Worker(RECEIVE_WORKER, {
    eval: true,
    workerData: { url, out, settings, sessionWindow: HTTP2_SESSION_WINDOW_BYTES },
    resourceLimits: { maxYoungGenerationSizeMb: 3 },
  });
  let bytes = 0;
  receiver.on("message", (m: { end?: boolean; bytes?: number }) => {
    if (m.end) bytes = m.bytes!;
    whole.postMessage(m);
  });
  await new Promise((resolve) => whole.once("message", resolve));
  await Promise.all([receiver.terminate(), whole.terminate()]);
  return bytes;
}
