// The worker pipeline's whole-file hasher (pipelines.ts): reads each written piece back from the page
// cache, in file order.
import { createHash } from "node:crypto";
import { openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { PIECE_BYTES, type ReceiveReply, type WholeData, type WholeReply } from "./pipelines-protocol.js";

const port = parentPort!;
const whole = createHash("sha256");
const buf = Buffer.allocUnsafe(PIECE_BYTES);
const written = new Set<number>();
let fd = -1;
let next = 0;
let count = -1;
port.on("message", (m: ReceiveReply) => {
  if (fd < 0) fd = openSync((workerData as WholeData).out, "r");
  if ("end" in m) count = m.pieces;
  else written.add(m.written);
  while (written.delete(next)) whole.update(buf.subarray(0, readSync(fd, buf, 0, PIECE_BYTES, next++ * PIECE_BYTES)));
  if (next === count) {
    whole.digest();
    const done: WholeReply = { end: true };
    port.postMessage(done);
  }
});
