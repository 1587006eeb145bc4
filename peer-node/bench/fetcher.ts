// The downloading pserver of the benchmark, in its own process so its memory and CPU are its own.
// argv[2]: JSON {folder, dataDir, contentId, holders}. Prints one JSON line with the figures.
// Tuning knobs for experiments (not used by run.ts): BENCH_PEER_OPTS / BENCH_DOWNLOADER_OPTS (JSON
// options of PeerClients / PieceDownloader), BENCH_TIMELINE=1 (progress to stderr), BENCH_MEM_DETAIL=1.
import { readFileSync } from "node:fs";
import { pino } from "pino";
import { SharedFolder } from "../src/store/shared-folder.js";
import { PieceDownloader } from "../src/transfer/downloader.js";
import { PeerClients } from "../src/transfer/peer-clients.js";
import { TransferRegistry } from "../src/transfer/transfer.js";

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
const cpuBefore = process.cpuUsage();
const elu0 = performance.eventLoopUtilization();
const started = performance.now();
const transfer = downloader.download(args.contentId);
const timeline = process.env.BENCH_TIMELINE
  ? setInterval(() => process.stderr.write(`${((performance.now() - started) / 1000).toFixed(1)}s ${transfer.snapshot().bytesDone >> 20} MiB | `), 200)
  : undefined;
const end = await transfer.done;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const elu = performance.eventLoopUtilization(elu0);
clearInterval(sampler);
clearInterval(timeline);
if (peakDetail) process.stderr.write(`peak: ${peakDetail}\n`);
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
    eventLoopUtilization: elu.utilization,
  })}\n`,
);
await downloader.close();
peers.close();
await store.close();
