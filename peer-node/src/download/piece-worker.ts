// Checking, writing and whole-file hashing of a download's pieces, on a worker thread.
//
// Why a worker: with the event loop doing it all (protocol decoding, each piece's SHA-256, the
// whole-file SHA-256), downloads here topped out around 100-150 MB/s with the loop never idle; WebCrypto's
// digest moved the hashing to the thread pool but cost ~1 ms of event-loop time per MiB in copies. Now the
// network reader copies each piece into a slot of the download's ring (piece-ring.ts), whose memory is
// transferred here with the piece and back with the answer. The worker hashes it, has the thread pool
// write it at its offset and, when it is the next piece in file order, feeds it to the whole-file hash
// straight from the slot; pieces that arrived early are read back from the page cache when their turn
// comes. Nothing is allocated per piece on either thread.
import { Worker } from "node:worker_threads";
import type { Manifest } from "../store/file-store.js";
import type { PieceSlot } from "../pieces/piece-ring.js";

// Plain JavaScript, run with eval: it works whatever loader runs the TypeScript around it.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const crypto = require("node:crypto");
const { path, size, pieceSize, hashes, have } = workerData;
const count = Math.ceil(size / pieceSize);
const fd = fs.openSync(path, "r+");
const written = new Uint8Array(Math.ceil(count / 8));
written.set(have);
const whole = crypto.createHash("sha256");
let cursor = 0;
const readBuf = Buffer.allocUnsafe(pieceSize);
const has = (i) => (written[i >> 3] & (1 << (i & 7))) !== 0;
const lengthOf = (i) => Math.min(pieceSize, size - i * pieceSize);

function advance() {
  while (cursor < count && has(cursor)) {
    const len = lengthOf(cursor);
    let done = 0;
    while (done < len) {
      const n = fs.readSync(fd, readBuf, done, len - done, cursor * pieceSize + done);
      if (n === 0) throw new Error("the partial file is shorter than its manifest");
      done += n;
    }
    whole.update(readBuf.subarray(0, len));
    cursor++;
  }
}

// Writes go to the thread pool (fs.write): this thread hashes the next piece while the disk takes the
// last one. Writing here with writeSync made this thread the download's bottleneck (4.3 of ~5 s per GiB
// on a 2-core machine, pserver benchmark). A piece is answered only once its write has landed.
let pendingWrites = 0;
let finishWaiting = null;

function writeAll(data, position, done) {
  let at = 0;
  const step = () =>
    fs.write(fd, data, at, data.length - at, position + at, (err, n) => {
      if (err) return done(err);
      at += n;
      if (at < data.length) step();
      else done(null);
    });
  step();
}

// Every answer to a piece gives its slot's memory back.
function answer(m, reply) {
  parentPort.postMessage({ id: m.id, buffer: m.buffer, ...reply }, m.buffer ? [m.buffer] : []);
}

function fail(m, err) {
  answer(m, { error: String((err && err.message) || err), code: err && err.code });
}

function finish(m) {
  advance();
  if (cursor !== count) throw new Error("the whole-file hash was asked for before every piece was written");
  fs.closeSync(fd);
  answer(m, { digest: whole.digest("hex") });
}

parentPort.on("message", (m) => {
  try {
    if (m.type === "piece") {
      const data = Buffer.from(m.buffer, m.offset, m.length);
      const i = m.i;
      const digest = crypto.createHash("sha256").update(data).digest();
      if (data.length !== lengthOf(i) || !digest.equals(hashes.subarray(i * 32, i * 32 + 32))) {
        answer(m, { ok: false });
        return;
      }
      pendingWrites++;
      writeAll(data, i * pieceSize, (err) => {
        pendingWrites--;
        try {
          if (err) throw err;
          written[i >> 3] |= 1 << (i & 7);
          // Next in file order: hash it from the slot (the caller keeps it until answered).
          if (i === cursor) {
            whole.update(data);
            cursor++;
          }
          advance();
          answer(m, { ok: true });
        } catch (e) {
          fail(m, e);
        }
        if (pendingWrites === 0 && finishWaiting) {
          const f = finishWaiting;
          finishWaiting = null;
          try {
            finish(f);
          } catch (e) {
            fail(f, e);
          }
        }
      });
    } else if (m.type === "start") {
      advance(); // a resumed download: hash the verified prefix while new pieces queue up
      answer(m, { ok: true });
    } else if (m.type === "finish") {
      if (pendingWrites > 0) finishWaiting = m;
      else finish(m);
    }
  } catch (err) {
    fail(m, err);
  }
});
`;

/** An I/O failure inside the worker as the I/O error it was, errno code (ENOSPC...) included, so isDiskFull reads it. */
function workerIoError(message: string, code: string | undefined): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

interface Reply {
  id: number;
  ok?: boolean;
  digest?: string;
  error?: string;
  code?: string;
  /** A piece's slot memory, given back. */
  buffer?: ArrayBuffer;
}

/** The worker of one download: verifies and writes pieces, and computes the whole-file hash on the way. */
export class PieceWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; slot?: PieceSlot }>();
  #nextId = 0;
  #dead: Error | undefined;

  /**
   * Starts the worker on the partial file at `path`; `have` is the bitfield of pieces already verified
   * and written (a resumed download), hashed in file order as the first job.
   */
  constructor(path: string, manifest: Manifest, have: Uint8Array) {
    const hashes = Buffer.concat(manifest.pieceHashes.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength)));
    // Not unref()'d: a download waiting for its worker must keep the process alive; every end path
    // (finish, destroy) terminates it.
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path, size: manifest.size, pieceSize: manifest.pieceSize, hashes, have },
    });
    this.#worker.on("message", (r: Reply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      p.slot?.restore(r.buffer);
      if (r.error !== undefined) p.reject(workerIoError(r.error, r.code));
      else p.resolve(r);
    });
    const fail = (err: Error) => {
      this.#dead ??= err;
      for (const p of this.#pending.values()) {
        // The slot's memory died with the worker: the slot gets new memory.
        p.slot?.restore();
        p.reject(err);
      }
      this.#pending.clear();
    };
    this.#worker.on("error", fail);
    this.#worker.on("exit", () => fail(new Error("the piece worker stopped")));
    void this.#call({ type: "start" }).catch(() => undefined);
  }

  /**
   * Checks piece `i`, received into `slot` at `offset`, against the manifest and, when it matches, writes
   * it at its offset in the file. Resolves true when written, false when the bytes do not match. The
   * slot's memory is lent to the worker until this settles; the caller releases the slot.
   */
  async verifyAndWrite(i: number, slot: PieceSlot, offset: number, length: number): Promise<boolean> {
    const r = await this.#call({ type: "piece", i, offset, length }, slot);
    return r.ok === true;
  }

  /** The hex SHA-256 of the whole file, once every piece is written. */
  async finish(): Promise<string> {
    try {
      const r = await this.#call({ type: "finish" });
      return r.digest!;
    } finally {
      this.destroy();
    }
  }

  /** Stops the worker (cancel, failure, shutdown, or after finish). */
  destroy(): void {
    void this.#worker.terminate();
  }

  /** Sends a job; with `slot`, its memory goes along (transferred) and comes back with the answer. */
  #call(msg: Record<string, unknown>, slot?: PieceSlot): Promise<Reply> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = ++this.#nextId;
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, slot });
      if (!slot) return this.#worker.postMessage({ ...msg, id });
      const buffer = slot.lend();
      this.#worker.postMessage({ ...msg, id, buffer }, [buffer]);
    });
  }
}
