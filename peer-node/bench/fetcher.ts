// The downloading pserver of the benchmark, in its own process so its memory and CPU are its own.
// argv[2]: JSON {folder, dataDir, contentId, holders}. Prints one JSON line with the figures.
// Tuning knobs for experiments (variants.ts sets the first two; run.ts none): BENCH_PEER_OPTS /
// BENCH_DOWNLOADER_OPTS (JSON options of PeerClients / PieceDownloader), BENCH_TIMELINE=1 (progress to stderr), BENCH_MEM_DETAIL=1,
// BENCH_THREADS=1 (CPU seconds of each thread to stderr too; the JSON line always has them).
// First, as in the pserver's entry (cli/main.ts): the global Headers without Node's undici.
import "../src/install-light-headers.js";
import { readFileSync, readdirSync } from "node:fs";
import { pino } from "pino";
import { SharedFolder } from "../src/store/shared-folder.js";
import { PieceDownloader } from "../src/download/downloader.js";
import { PeerClients } from "../src/pieces/peer-clients.js";
import { TransferRegistry } from "../src/transfer/transfer.js";
import { threadLabel } from "./threads.js";

const args = JSON.parse(process.argv[2]!) as {
  folder: string;
  dataDir: string;
  contentId: string;
  holders: Array<{ name: string; address: string }>;
};
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" });
const store = await SharedFolder.open({ folder: args.folder, dataDir: args.dataDir, logger });
const peers = new PeerClients({ logger, ...JSON.parse(process.env.BENCH_PEER_OPTS ?? "{}") });
const downloader = new PieceDownloader({
  store,
  registry: new TransferRegistry(),
  findHolders: async () => args.holders,
  peers,
  logger,
  selfName: "fetcher",
  options: JSON.parse(process.env.BENCH_DOWNLOADER_OPTS ?? "{}"),
});

const status = () => readFileSync("/proc/self/status", "utf8");
const baselineRss = process.memoryUsage.rss();
let peakRss = baselineRss;
let peakDetail = "";
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss <= peakRss) return;
  peakRss = rss;
  if (process.env.BENCH_MEM_DETAIL) {
    const m = process.memoryUsage();
    const kinds = ["RssAnon", "RssFile"].map((k) => new RegExp(`${k}:\\s+\\d+ kB`).exec(status())?.[0]).join(" ");
    peakDetail = `${kinds} heapTotal ${m.heapTotal >> 20} MiB, external ${m.external >> 20} MiB, arrayBuffers ${m.arrayBuffers >> 20} MiB`;
  }
}, 50);
/** CPU ticks (utime + stime) of every thread of this process, by thread id and name. */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(`${tid} ${name}`, Number(f[11]) + Number(f[12]));
    } catch {
      // The thread ended in between.
    }
  }
  return out;
}
const ticksBefore = threadTicks();
// The piece worker ends with its download: keep each thread's last sample.
const ticksLast = new Map<string, number>();
const sampleTicks = () => {
  for (const [k, t] of threadTicks()) ticksLast.set(k, t);
};
const tickSampler = setInterval(sampleTicks, 100);
const cpuBefore = process.cpuUsage();
const faultsBefore = process.resourceUsage().minorPageFault;
const elu0 = performance.eventLoopUtilization();
const started = performance.now();
const transfer = downloader.download(args.contentId);
const timeline = process.env.BENCH_TIMELINE
  ? setInterval(() => process.stderr.write(`${((performance.now() - started) / 1000).toFixed(1)}s ${transfer.snapshot().bytesDone >> 20} MiB ${transfer.snapshot().sources.join("+")} | `), 200)
  : undefined;
const end = await transfer.done;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const minorFaults = process.resourceUsage().minorPageFault - faultsBefore;
const elu = performance.eventLoopUtilization(elu0);
clearInterval(sampler);
clearInterval(timeline);
if (peakDetail) process.stderr.write(`peak: ${peakDetail}\n`);
clearInterval(tickSampler);
sampleTicks();
// Ticks are 1/100 s on Linux. The main thread's id is the process's; a thread that was not there before
// the download is its piece worker.
const threadCpuSeconds = [...ticksLast]
  .map(([k, t]) => [threadLabel(k, process.pid, ticksBefore), (t - (ticksBefore.get(k) ?? 0)) / 100] as const)
  .filter(([, s]) => s >= 0.01)
  .sort((a, b) => b[1] - a[1]);
if (process.env.BENCH_THREADS) process.stderr.write(`CPU by thread: ${threadCpuSeconds.map(([k, s]) => `${k}: ${s.toFixed(2)} s`).join(", ")}\n`);
const hwm = /VmHWM:\s+(\d+) kB/.exec(status());
process.stdout.write(
  `${JSON.stringify({
    state: end.state,
    error: end.error,
    bytes: end.bytesTotal,
    seconds,
    baselineRssBytes: baselineRss,
    peakRssBytes: peakRss,
    vmHwmBytes: hwm ? Number(hwm[1]) * 1024 : 0,
    refetched: end.piecesRefetched,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    minorFaults,
    threadCpuSeconds,
    eventLoopUtilization: elu.utilization,
  })}\n`,
);
await downloader.close();
peers.close();
await store.close();
