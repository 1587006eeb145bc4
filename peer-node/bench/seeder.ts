// A minimal serving pserver for the benchmark: a shared folder and PeerService on the real one-port
// server, configured as startPserver configures it. argv[2]: JSON {folder, dataDir, uploadBytesPerSecond?}.
// Prints "ready <url>" once serving; stops on SIGTERM.
import { readFileSync } from "node:fs";
import { pino } from "pino";
import { pserverRpcs } from "../src/rpc/connect.js";
import { listenOnePort } from "../src/rpc/one-port.js";
import { PeerServiceImpl } from "../src/rpc/peer-service.js";
import { SharedFolder } from "../src/store/shared-folder.js";
import { REFUSE_EVERY_PUSH } from "../src/push/push-settings.js";

const args = JSON.parse(process.argv[2]!) as { folder: string; dataDir: string; uploadBytesPerSecond?: number };
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" });
const store = await SharedFolder.open({ folder: args.folder, dataDir: args.dataDir, logger });
const service = new PeerServiceImpl({
  store,
  pushConsent: REFUSE_EVERY_PUSH,
  redeemTicket: async () => {
    throw new Error("no pushes in the benchmark");
  },
  peerName: () => "seeder",
  logger,
  limits: { uploadBytesPerSecond: args.uploadBytesPerSecond },
});
const server = await listenOnePort({ host: "127.0.0.1", port: 0, handler: pserverRpcs({ peer: service }, logger), logger });
process.stdout.write(`ready ${server.url}\n`);
const cpuBefore = process.cpuUsage();
process.once("SIGTERM", () => {
  // The seeder's own cost, for the run's figures: CPU of all its threads since it was ready, peak RSS.
  const cpu = process.cpuUsage(cpuBefore);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  process.stdout.write(`stats ${JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 })}\n`);
  void server.close().then(() => store.close()).then(() => process.exit(0));
});
