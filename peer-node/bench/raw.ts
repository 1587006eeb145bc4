// The baseline: the same bytes over a bare node:http2 stream, with the same window settings.
//   raw.ts serve <file>              prints "ready <url>", streams the file to every GET
//   raw.ts fetch <url> <out|-> [naive|verify]  downloads once ("-" discards), prints {bytes, seconds, cpuSeconds, peakRssBytes, minorFaults}
// To disk, the received chunks are gathered into 1 MiB blocks written at their offsets, as a careful
// raw downloader would (a plain createWriteStream of the ~16 KiB chunks ran at ~100 MB/s here, which
// made a weak baseline; it is still measured, as "naive", for comparison with earlier figures).
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import http2 from "node:http2";
import type net from "node:net";
import { pipeline } from "node:stream/promises";
import { HTTP2_INITIAL_WINDOW_BYTES, HTTP2_MAX_FRAME_BYTES, HTTP2_SESSION_WINDOW_BYTES } from "../src/constants.js";

const settings = { initialWindowSize: HTTP2_INITIAL_WINDOW_BYTES, maxFrameSize: HTTP2_MAX_FRAME_BYTES };
const [mode, a, b, variant] = process.argv.slice(2);

if (mode === "serve") {
  const server = http2.createServer({ settings });
  server.on("session", (s) => {
    const widen = () => s.setLocalWindowSize(HTTP2_SESSION_WINDOW_BYTES);
    if (s.connecting) s.once("connect", widen);
    else widen();
  });
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200, "content-type": "application/octet-stream" });
    void pipeline(createReadStream(a!, { highWaterMark: 1024 * 1024 }), stream).catch(() => undefined);
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`ready http://127.0.0.1:${(server.address() as net.AddressInfo).port}\n`));
  process.once("SIGTERM", () => process.exit(0));
} else if (mode === "fetch") {
  const session = http2.connect(a!, { settings });
  session.once("connect", () => session.setLocalWindowSize(HTTP2_SESSION_WINDOW_BYTES));
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const faultsBefore = process.resourceUsage().minorPageFault;
  const req = session.request({ ":path": "/" });
  let bytes = 0;
  if (b === "-") {
    req.on("data", (c: Buffer) => (bytes += c.length));
    await new Promise((r) => req.once("end", r));
  } else if (variant === "naive") {
    req.on("data", (c: Buffer) => (bytes += c.length));
    await pipeline(req, createWriteStream(b!));
    const fh = await open(b!, "r+");
    await fh.datasync();
    await fh.close();
  } else {
    const fh = await open(b!, "w");
    const block = Buffer.allocUnsafe(1024 * 1024);
    // "verify": each 1 MiB piece hashed on the way, in this one thread: the least work a verified
    // download adds to a raw one (the content id names the piece hashes: no whole-file hash).
    const verify = variant === "verify";
    let filled = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      for (let at = 0; at < c.length; ) {
        const n = c.copy(block, filled, at);
        at += n;
        filled += n;
        if (filled === block.length) {
          if (verify) createHash("sha256").update(block).digest(); // the piece's hash (1 MiB pieces, as ours)
          await fh.write(block, 0, filled, bytes);
          bytes += filled;
          filled = 0;
        }
      }
    }
    if (filled > 0) {
      if (verify) createHash("sha256").update(block.subarray(0, filled)).digest();
      await fh.write(block, 0, filled, bytes);
    }
    bytes += filled;
    await fh.datasync(); // our downloader makes its bytes durable too
    await fh.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  session.close();
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  const peakRssBytes = hwm ? Number(hwm[1]) * 1024 : 0;
  const minorFaults = process.resourceUsage().minorPageFault - faultsBefore;
  process.stdout.write(`${JSON.stringify({ bytes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes, minorFaults })}\n`);
}
