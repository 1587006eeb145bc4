// The piece worker thread of one download: verifies each piece against its hash in the manifest and
// writes it at its offset. Each byte is hashed here once: the manifest was checked against the content
// id before the first piece was asked for, so there is no whole-file pass. piece-worker.ts starts it and
// says why it is a thread; the messages are piece-worker-protocol.ts's. Runs as its own bundle
// (bin/bundle.js), so it imports only what it needs: node's fs and crypto.
import { createHash } from "node:crypto";
import { closeSync, openSync, write } from "node:fs";
import { parentPort } from "node:worker_threads";
import type { PieceJob, PieceReply } from "./piece-worker-protocol.js";

const port = parentPort!;
/** The download's file and manifest, from its "open" job. */
let file: { readonly fd: number; readonly size: number; readonly pieceSize: number; readonly hashes: Uint8Array } | undefined;
/** Why the file could not be opened: every later job fails with it. */
let openError: unknown;

// Writes go to the thread pool (fs.write): this thread hashes the next piece while the disk takes the
// last one. Writing here with writeSync made this thread the download's bottleneck (4.3 of ~5 s per GiB
// on a 2-core machine, measured with the transfer benchmark). A piece is answered only once its write
// has landed.
let pendingWrites = 0;
let finishWaiting: PieceJob | undefined;

function writeAll(fd: number, data: Buffer, position: number, done: (err: Error | null) => void): void {
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

function open(job: Extract<PieceJob, { type: "open" }>): void {
  try {
    file = { fd: openSync(job.path, "r+"), size: job.size, pieceSize: job.pieceSize, hashes: job.hashes };
    answer(job, { ok: true });
  } catch (err) {
    openError = err;
    fail(job, err);
  }
}

/** The open file, or the reason there is none. */
function opened(): NonNullable<typeof file> {
  if (file) return file;
  throw openError ?? new Error("the piece worker was given no file");
}

function finish(job: PieceJob): void {
  if (file) closeSync(file.fd);
  file = undefined;
  answer(job, { ok: true });
}

function piece(job: Extract<PieceJob, { type: "piece" }>): void {
  const { fd, size, pieceSize, hashes } = opened();
  const data = Buffer.from(job.buffer, job.offset, job.length);
  const i = job.i;
  const digest = createHash("sha256").update(data).digest();
  if (data.length !== Math.min(pieceSize, size - i * pieceSize) || !digest.equals(hashes.subarray(i * 32, i * 32 + 32))) {
    answer(job, { ok: false });
    return;
  }
  pendingWrites++;
  writeAll(fd, data, i * pieceSize, (err) => {
    pendingWrites--;
    try {
      if (err) throw err;
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
    if (job.type === "open") {
      open(job);
    } else if (job.type === "piece") {
      piece(job);
    } else if (pendingWrites > 0) {
      finishWaiting = job;
    } else {
      finish(job);
    }
  } catch (err) {
    fail(job, err);
  }
});
