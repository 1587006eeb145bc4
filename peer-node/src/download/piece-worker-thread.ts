// The piece worker thread of one download: verifies each piece, writes it at its offset and feeds the
// whole-file hash in file order. piece-worker.ts starts it and says why it is a thread; the messages
// are piece-worker-protocol.ts's. Runs as its own bundle (bin/bundle.js), so it imports only what it
// needs: node's fs and crypto and the bitfield.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, write } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { hasBit, newBitfield, setBit } from "../store/bitfield.js";
import type { PieceJob, PieceReply, PieceWorkerData } from "./piece-worker-protocol.js";

const port = parentPort!;
const { path, size, pieceSize, hashes, have } = workerData as PieceWorkerData;
const count = Math.ceil(size / pieceSize);
const fd = openSync(path, "r+");
const written = newBitfield(count);
written.set(have);
const whole = createHash("sha256");
/** The next piece the whole-file hash needs. */
let cursor = 0;
const readBuf = Buffer.allocUnsafe(pieceSize);
const lengthOf = (i: number) => Math.min(pieceSize, size - i * pieceSize);

/** Feeds the whole-file hash every written piece from the cursor on, read back from the page cache. */
function advance(): void {
  while (cursor < count && hasBit(written, cursor)) {
    const len = lengthOf(cursor);
    let done = 0;
    while (done < len) {
      const n = readSync(fd, readBuf, done, len - done, cursor * pieceSize + done);
      if (n === 0) throw new Error("the partial file is shorter than its manifest");
      done += n;
    }
    whole.update(readBuf.subarray(0, len));
    cursor++;
  }
}

// Writes go to the thread pool (fs.write): this thread hashes the next piece while the disk takes the
// last one. Writing here with writeSync made this thread the download's bottleneck (4.3 of ~5 s per GiB
// on a 2-core machine, measured with the transfer benchmark). A piece is answered only once its write
// has landed.
let pendingWrites = 0;
let finishWaiting: PieceJob | undefined;

function writeAll(data: Buffer, position: number, done: (err: Error | null) => void): void {
  let at = 0;
  const step = () =>
    write(fd, data, at, data.length - at, position + at, (err, n) => {
      if (err) return done(err);
      at += n;
      if (at < data.length) step();
      else done(null);
    });
  step();
}

/** Answers a job; every answer to a piece gives its slot's memory back. */
function answer(job: PieceJob, reply: Omit<PieceReply, "id" | "buffer">): void {
  const buffer = job.type === "piece" ? job.buffer : undefined;
  const message = { id: job.id, buffer, ...reply } as PieceReply;
  port.postMessage(message, buffer ? [buffer] : []);
}

function fail(job: PieceJob, err: unknown): void {
  const e = err as NodeJS.ErrnoException | undefined;
  answer(job, { error: String(e?.message || err), code: e?.code });
}

function finish(job: PieceJob): void {
  advance();
  if (cursor !== count) throw new Error("the whole-file hash was asked for before every piece was written");
  closeSync(fd);
  answer(job, { digest: whole.digest("hex") });
}

function piece(job: Extract<PieceJob, { type: "piece" }>): void {
  const data = Buffer.from(job.buffer, job.offset, job.length);
  const i = job.i;
  const digest = createHash("sha256").update(data).digest();
  if (data.length !== lengthOf(i) || !digest.equals(hashes.subarray(i * 32, i * 32 + 32))) {
    answer(job, { ok: false });
    return;
  }
  pendingWrites++;
  writeAll(data, i * pieceSize, (err) => {
    pendingWrites--;
    try {
      if (err) throw err;
      setBit(written, i);
      // Next in file order: hash it from the slot (the owner keeps it until answered).
      if (i === cursor) {
        whole.update(data);
        cursor++;
      }
      advance();
      answer(job, { ok: true });
    } catch (e) {
      fail(job, e);
    }
    if (pendingWrites === 0 && finishWaiting) {
      const f = finishWaiting;
      finishWaiting = undefined;
      try {
        finish(f);
      } catch (e) {
        fail(f, e);
      }
    }
  });
}

port.on("message", (job: PieceJob) => {
  try {
    if (job.type === "piece") {
      piece(job);
    } else if (job.type === "start") {
      advance(); // a resumed download: hash the verified prefix while new pieces queue up
      answer(job, { ok: true });
    } else if (pendingWrites > 0) {
      finishWaiting = job;
    } else {
      finish(job);
    }
  } catch (err) {
    fail(job, err);
  }
});
