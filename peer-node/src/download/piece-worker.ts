// Checking and writing of a download's pieces, on a worker thread.
//
// Why a worker: with the event loop doing it all (protocol decoding, each piece's SHA-256), downloads
// here topped out around 100-150 MB/s with the loop never idle; WebCrypto's digest moved the hashing to
// the thread pool but cost ~1 ms of event-loop time per MiB in copies. Now the network reader copies each
// piece into a slot of the download's ring (piece-ring.ts), whose memory is transferred here with the
// piece and back with the answer. The worker hashes it once and has the thread pool write it at its
// offset. Nothing is allocated per piece on either thread. (Until content ids named the manifest, the
// worker also hashed the whole file in order, reading early pieces back: a second pass over every byte.)
//
// The thread starts before its download knows the file: a download job starts it as it asks holders for
// the manifest, and gives it the file and the manifest's hashes once the manifest is checked (`open`).
// A thread took ~100 ms to start here (an isolate, Node's bootstrap, its bundle): started after the
// manifest, the first received pieces waited for it in the ring, and a 512 MiB download began ~0.1 s
// later (bench, 2026-12-05).
//
// The thread's code is piece-worker-thread.ts, run from its own bundle (worker-script.ts says why).
import { Worker } from "node:worker_threads";
import type { Manifest } from "../store/file-store.js";
import type { PieceSlot } from "../pieces/piece-ring.js";
import { workerScript } from "../worker-script.js";
import type { PieceJob, PieceReply } from "./piece-worker-protocol.js";

/** An I/O failure inside the worker as the I/O error it was, errno code (ENOSPC...) included, so isDiskFull reads it. */
function workerIoError(message: string, code: string | undefined): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** The worker of one download: verifies and writes pieces. */
export class PieceWorker {
  /** Undefined until its script is found (a moment, or a bundling when run from the sources). */
  #worker: Worker | undefined;
  readonly #started: Promise<void>;
  readonly #pending = new Map<number, { resolve: (r: PieceReply) => void; reject: (e: Error) => void; slot?: PieceSlot }>();
  #nextId = 0;
  #dead: Error | undefined;

  /** Starts the thread; with `path` and `manifest`, opens the file at once (see `open`). */
  constructor(path?: string, manifest?: Manifest) {
    this.#started = workerScript("piece-worker-thread").then(
      (script) => {
        if (this.#dead) return; // destroyed before it started
        // Not unref()'d: a download waiting for its worker must keep the process alive; every end path
        // (finish, destroy) terminates it. No execArgv of ours: the thread runs a plain bundle, and a
        // loader or preload given to this process (tsx, a test harness's --import of a .ts file) would
        // only cost memory there, or fail to load without the loader it came with.
        const worker = new Worker(script, { execArgv: [] });
        worker.on("message", (r: PieceReply) => {
          const p = this.#pending.get(r.id);
          if (!p) return;
          this.#pending.delete(r.id);
          p.slot?.restore(r.buffer);
          if ("error" in r) p.reject(workerIoError(r.error, r.code));
          else p.resolve(r);
        });
        worker.on("error", (err) => this.#fail(err));
        worker.on("exit", () => this.#fail(new Error("the piece worker stopped")));
        this.#worker = worker;
      },
      (err: Error) => this.#fail(err),
    );
    if (path !== undefined && manifest !== undefined) this.open(path, manifest);
  }

  /**
   * Gives the thread the partial file at `path` and the manifest to check pieces against; call once,
   * before the first piece. A file that cannot be opened fails every piece with the I/O error.
   */
  open(path: string, manifest: Manifest): void {
    const hashes = Buffer.concat(manifest.pieceHashes.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength)));
    // Its failure reaches every later piece (the thread keeps it): nothing to wait for here.
    this.#call((id) => ({ type: "open", id, path, size: manifest.size, pieceSize: manifest.pieceSize, hashes })).catch(() => undefined);
  }

  /**
   * Checks piece `i`, received into `slot` at `offset`, against the manifest and, when it matches, writes
   * it at its offset in the file. Resolves true when written, false when the bytes do not match. The
   * slot's memory is lent to the worker until this settles; the caller releases the slot.
   */
  async verifyAndWrite(i: number, slot: PieceSlot, offset: number, length: number): Promise<boolean> {
    const r = await this.#call((id) => ({ type: "piece", id, i, offset, length, buffer: slot.lend() }), slot);
    return "ok" in r && r.ok;
  }

  /** Waits for every write to land, closes the file and stops the worker. */
  async finish(): Promise<void> {
    try {
      await this.#call((id) => ({ type: "finish", id }));
    } finally {
      this.destroy();
    }
  }

  /** Stops the worker (cancel, failure, shutdown, or after finish). */
  destroy(): void {
    if (this.#worker) void this.#worker.terminate();
    else this.#fail(new Error("the piece worker stopped"));
  }

  /** Fails every job in flight: the worker is gone, and with it the memory of the slots it held. */
  #fail(err: Error): void {
    this.#dead ??= err;
    for (const p of this.#pending.values()) {
      // The slot's memory died with the worker: the slot gets new memory.
      p.slot?.restore();
      p.reject(err);
    }
    this.#pending.clear();
  }

  /**
   * Sends the job `make` builds for its id; with `slot`, the job carries the slot's memory (transferred,
   * no copy) and the answer brings it back.
   */
  #call(make: (id: number) => PieceJob, slot?: PieceSlot): Promise<PieceReply> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = ++this.#nextId;
    return new Promise<PieceReply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, slot });
      const job = make(id);
      const transfer = job.type === "piece" ? [job.buffer] : [];
      if (this.#worker) this.#worker.postMessage(job, transfer);
      // Not started yet: jobs wait for it in the order they came.
      else void this.#started.then(() => (this.#dead ? undefined : this.#worker!.postMessage(job, transfer)));
    });
  }
}
