// Two verified raw pipelines on two threads: what a Node download of the raw stream can reach when it
// hashes each 1 MiB piece and the whole file and writes to disk, as ours must, without gRPC or any of
// the downloader's bookkeeping. They bound what a change of our design could gain.
//   pipelines.ts <url> <out> ring    ours: the main thread receives HTTP/2 and copies each piece into a
//                                    ring slot, whose memory goes to a worker (transferred) that hashes
//                                    the piece and the whole file, has the thread pool write it, and gives
//                                    the memory back (receive-pieces.ts + piece-ring.ts + piece-worker.ts, bare)
//   pipelines.ts <url> <out> worker  the alternative: HTTP/2 is received in a worker (small heap and young
//                                    generation), which hashes each piece from the received chunks and
//                                    writes them with writev (no copy); a second worker hashes the whole
//                                    file, reading written pieces back from the page cache
// Prints {bytes, seconds, cpuSeconds, peakRssBytes} as raw.ts does; <url> is a raw.ts server. The
// threads' code is in pipelines-*-thread.ts, each run from its own bundle (src/worker-script.ts).
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { Worker } from "node:worker_threads";
import { HTTP2_INITIAL_WINDOW_BYTES, HTTP2_MAX_FRAME_BYTES, HTTP2_SESSION_WINDOW_BYTES } from "../src/constants.js";
import { workerScript } from "../src/worker-script.js";
import {
  PIECE_BYTES,
  PIPELINE_WORKERS,
  UNWRITTEN_PIECES_MAX,
  type ReceiveData,
  type ReceiveReply,
  type RingData,
  type RingJob,
  type RingReply,
  type WholeData,
} from "./pipelines-protocol.js";

const [url, out, mode] = process.argv.slice(2) as [string, string, "ring" | "worker"];
const settings = { initialWindowSize: HTTP2_INITIAL_WINDOW_BYTES, maxFrameSize: HTTP2_MAX_FRAME_BYTES };

const started = performance.now();
const cpuBefore = process.cpuUsage();
const bytes = mode === "ring" ? await ring() : await inWorker();
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
process.stdout.write(`${JSON.stringify({ bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 })}\n`);
process.exit(0);

async function ring(): Promise<number> {
  const slots = Array.from({ length: UNWRITTEN_PIECES_MAX }, () => Buffer.from(new ArrayBuffer(PIECE_BYTES)));
  const ringData: RingData = { out };
  const worker = new Worker(await workerScript("bench-ring-thread", PIPELINE_WORKERS), { workerData: ringData });
  const free = Array.from({ length: UNWRITTEN_PIECES_MAX }, (_, k) => k);
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
    worker.on("message", (m: RingReply) => {
      if ("end" in m) return resolve();
      slots[m.slot] = Buffer.from(m.buffer);
      free.push(m.slot);
      pump();
    });
  });
  const flush = () => {
    const buffer = slots[slot!]!.buffer;
    const job: RingJob = { slot: slot!, buffer, index: index++, length: filled };
    worker.postMessage(job, [buffer]);
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
      const n = chunk.copy(slots[slot]!, filled, queueAt, Math.min(chunk.length, queueAt + PIECE_BYTES - filled));
      queueAt += n;
      filled += n;
      if (queueAt === chunk.length) {
        queue.shift();
        queueAt = 0;
      }
      if (filled === PIECE_BYTES) flush();
    }
    req.resume();
    if (ended && !endSent) {
      if (filled > 0) flush();
      endSent = true;
      const end: RingJob = { end: true };
      worker.postMessage(end);
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
  const wholeData: WholeData = { out };
  const whole = new Worker(await workerScript("bench-whole-thread", PIPELINE_WORKERS), { workerData: wholeData });
  const receiveData: ReceiveData = { url, out, settings, sessionWindow: HTTP2_SESSION_WINDOW_BYTES };
  // A 1 MiB semi-space, as the pserver runs (bin/node-flags.js says why).
  const receiver = new Worker(await workerScript("bench-receive-thread", PIPELINE_WORKERS), {
    workerData: receiveData,
    resourceLimits: { maxYoungGenerationSizeMb: 3 },
  });
  let bytes = 0;
  receiver.on("message", (m: ReceiveReply) => {
    if ("end" in m) bytes = m.bytes;
    whole.postMessage(m);
  });
  await new Promise((resolve) => whole.once("message", resolve));
  await Promise.all([receiver.terminate(), whole.terminate()]);
  return bytes;
}
