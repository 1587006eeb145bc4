// The ring pipeline's worker (pipelines.ts): hashes each piece and the whole file (pieces come in
// order), writes on the thread pool, and gives each slot's memory back once its piece is written.
import { createHash } from "node:crypto";
import { closeSync, fdatasyncSync, openSync, write } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { PIECE_BYTES, type RingData, type RingJob, type RingReply } from "./pipelines-protocol.js";

const port = parentPort!;
const fd = openSync((workerData as RingData).out, "w");
const whole = createHash("sha256");
let pending = 0;
let ending = false;
const reply = (m: RingReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const end = () => {
  fdatasyncSync(fd);
  closeSync(fd);
  whole.digest();
  reply({ end: true });
};
port.on("message", (m: RingJob) => {
  if ("end" in m) {
    ending = true;
    if (pending === 0) end();
    return;
  }
  const data = Buffer.from(m.buffer, 0, m.length);
  createHash("sha256").update(data).digest();
  whole.update(data);
  pending++;
  write(fd, data, 0, m.length, m.index * PIECE_BYTES, (err) => {
    if (err) throw err;
    pending--;
    reply({ slot: m.slot, buffer: m.buffer }, [m.buffer]);
    if (ending && pending === 0) end();
  });
});
