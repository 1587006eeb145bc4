// The worker pipeline's receiver (pipelines.ts): HTTP/2 on this thread; each piece hashed from its
// chunks and written with writev (no copy).
import { createHash } from "node:crypto";
import { closeSync, fdatasyncSync, openSync, writev } from "node:fs";
import http2 from "node:http2";
import { parentPort, workerData } from "node:worker_threads";
import { PIECE_BYTES, UNWRITTEN_PIECES_MAX, type ReceiveData, type ReceiveReply } from "./pipelines-protocol.js";

const port = parentPort!;
const data = workerData as ReceiveData;
const fd = openSync(data.out, "w");
const session = http2.connect(data.url, { settings: data.settings });
session.once("connect", () => session.setLocalWindowSize(data.sessionWindow));
const req = session.request({ ":path": "/" });
let chunks: Buffer[] = [];
let filled = 0;
let index = 0;
let bytes = 0;
let pending = 0;
let ended = false;
let hash = createHash("sha256");
const reply = (m: ReceiveReply) => port.postMessage(m);
const finish = () => {
  fdatasyncSync(fd);
  closeSync(fd);
  session.close();
  reply({ end: true, bytes, pieces: index });
};
const flush = () => {
  hash.digest();
  hash = createHash("sha256");
  const list = chunks;
  const at = index * PIECE_BYTES;
  const written = index;
  chunks = [];
  filled = 0;
  index++;
  pending++;
  if (pending >= UNWRITTEN_PIECES_MAX) req.pause();
  writev(fd, list, at, (err) => {
    if (err) throw err;
    pending--;
    if (pending < UNWRITTEN_PIECES_MAX) req.resume();
    reply({ written });
    if (ended && pending === 0) finish();
  });
};
req.on("data", (c: Buffer) => {
  bytes += c.length;
  for (let at = 0; at < c.length; ) {
    const n = Math.min(c.length - at, PIECE_BYTES - filled);
    const part = n === c.length ? c : c.subarray(at, at + n);
    hash.update(part);
    chunks.push(part);
    filled += n;
    at += n;
    if (filled === PIECE_BYTES) flush();
  }
});
req.on("end", () => {
  ended = true;
  if (filled > 0) flush();
  else if (pending === 0) finish();
});
