// The baseline of the files-export benchmark: a bare node:http server that answers every GET with one
// file, piped from fs.createReadStream at 1 MiB reads, as simple as a file server gets.
//   bare-http.ts <file>   prints "ready <url>"; on SIGTERM prints "stats {cpuSeconds}" and exits.
import { createReadStream, readFileSync, statSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import { pipeline } from "node:stream/promises";

const file = process.argv[2]!;
const size = statSync(file).size;
const server = http.createServer((_req, res) => {
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(size) });
  void pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), res).catch(() => undefined);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`ready http://127.0.0.1:${(server.address() as net.AddressInfo).port}\n`));
const cpuBefore = process.cpuUsage();
process.once("SIGTERM", () => {
  const cpu = process.cpuUsage(cpuBefore);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  process.stdout.write(`stats ${JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 })}\n`);
  process.exit(0);
});
