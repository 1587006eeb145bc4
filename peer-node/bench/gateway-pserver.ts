// The gateway of the gateway benchmark: a whole pserver (startPserver, as `peer-node serve` starts it),
// in its own process so its memory is its own. argv[2]: JSON {directoryUrl, root}. Prints "ready <url>"
// once serving; stops on SIGTERM. Its memory is read from /proc/<pid>/status by the benchmark.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { startPserver } from "../src/pserver.js";

const args = JSON.parse(process.argv[2]!) as { directoryUrl: string; root: string };
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" });
const pserver = await startPserver({
  name: "gateway",
  password: "bench-password",
  directoryUrl: args.directoryUrl,
  sharedDir: join(args.root, "gateway", "shared"),
  dataDir: join(args.root, "gateway", "state"),
  logger,
  // BENCH_GATEWAY_SETTINGS: JSON GatewaySettings to try (window, stream caps).
  gateway: { maxTabs: 10_000, ...JSON.parse(process.env.BENCH_GATEWAY_SETTINGS ?? "{}") },
});
process.stdout.write(`ready ${pserver.url}\n`);
// The figures stop() reads on the way out: CPU of all threads since ready, peak RSS, the relay budget's figures.
const cpuBefore = process.cpuUsage();
process.once("SIGTERM", () => {
  const cpu = process.cpuUsage(cpuBefore);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  process.stdout.write(`stats ${JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0, relay: pserver.gatewayRelayStats() })}\n`);
  void pserver.close().then(() => process.exit(0));
});
