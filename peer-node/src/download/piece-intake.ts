// Received pieces on their way to disk: the piece worker checks each one's SHA-256 against the manifest
// and writes it at its offset in the partial file (piece-worker.ts); a verified piece is marked in the partial's bitfield, counted, and now and then the resume
// state is saved. A disk that fills up stops the download; nothing unverified is kept.
import type { Logger } from "pino";
import { PeerError, isDiskFull } from "../errors.js";
import type { ReceivedPiece } from "../pieces/receive-pieces.js";
import type { Manifest } from "../store/file-store.js";
import { pieceLength } from "../store/pieces.js";
import type { Transfer } from "../transfer/transfer.js";
import type { Holder } from "./holder.js";
import type { PartialDownload } from "./partial-download.js";
import { PieceWorker } from "./piece-worker.js";
import type { SaveCadence } from "./save-cadence.js";
import type { PieceScheduler } from "./scheduler.js";

/** What the intake of one try needs. */
export interface PieceIntakeOptions {
  readonly manifest: Manifest;
  readonly partial: PartialDownload;
  readonly scheduler: PieceScheduler;
  readonly transfer: Transfer;
  readonly saves: SaveCadence;
  readonly log: Logger;
  /** The job's: once it aborts, outcomes are dropped; a disk failure aborts it. */
  readonly controller: AbortController;
  /** A piece failed its check (already given back to the scheduler): the holder is to be told off. */
  readonly onBadPiece: (h: Holder, i: number) => void;
  /** A piece was checked either way and its slot released: there may be room for more. */
  readonly onChecked: () => void;
  /** A worker started beforehand (piece-worker.ts: the job starts it while it gets the manifest), not yet opened; else one is started here. */
  readonly worker?: PieceWorker;
}

/** Checks and writes the pieces of one try. */
export class PieceIntake {
  readonly #o: PieceIntakeOptions;
  #worker: PieceWorker | undefined;
  readonly #writes = new Set<Promise<void>>();
  #fatal: unknown;

  constructor(options: PieceIntakeOptions) {
    this.#o = options;
    const { partial, manifest } = options;
    this.#worker = options.worker ?? new PieceWorker();
    this.#worker.open(partial.partPath, manifest);
  }

  /** Why the download cannot go on (the disk failed), or undefined. */
  get fatal(): unknown {
    return this.#fatal;
  }

  /** Pieces being checked or written. */
  get pending(): number {
    return this.#writes.size;
  }

  /**
   * Has the worker check the received piece's SHA-256 and write it, then counts it and saves the resume
   * state now and then. A bad piece goes back to be fetched from another holder. The slot is released
   * when the worker is done with it.
   */
  take(h: Holder, piece: ReceivedPiece): void {
    const { manifest, scheduler, controller } = this.#o;
    const signal = controller.signal;
    const { pieceIndex: i, slot, offset, length } = piece;
    const task = (async () => {
      try {
        let ok: boolean;
        try {
          ok = length === pieceLength(manifest.size, manifest.pieceSize, i) && (await this.#worker!.verifyAndWrite(i, slot, offset, length));
        } catch (err) {
          if (signal.aborted) return;
          scheduler.unchecked(i);
          this.#fatal ??=
            isDiskFull(err)
              ? new PeerError("DISK_FULL", "The disk filled up during the download; it was stopped and nothing unverified was kept.", { cause: err })
              : err;
          controller.abort(this.#fatal);
          return;
        }
        if (signal.aborted) return;
        if (!ok) {
          scheduler.failedVerification(i);
          this.#o.onBadPiece(h, i);
          return;
        }
        const now = Date.now();
        scheduler.verified(h, i, length, now);
        this.#o.partial.markVerified(i);
        this.#o.transfer.setBytesDone(scheduler.verifiedBytes);
        if (this.#o.saves.pieceVerified(now)) {
          this.#o.partial.save().catch((err) => this.#o.log.warn({ err }, "could not save download state"));
        }
      } finally {
        slot.release();
        this.#o.onChecked();
      }
    })();
    this.#writes.add(task);
    void task.finally(() => this.#writes.delete(task));
  }

  /** Waits for every piece taken so far to be checked and written. */
  async written(): Promise<void> {
    await Promise.all([...this.#writes]);
  }

  /** Settles when every piece taken so far is done with, checked or not. */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.#writes]);
  }

  /** Waits for every write to land and closes the worker's file; the worker ends with it. */
  async finish(): Promise<void> {
    await this.#worker!.finish();
    this.#worker = undefined;
  }

  /** Stops the worker (a piece it held fails and its slot gets new memory). */
  destroy(): void {
    this.#worker?.destroy();
    this.#worker = undefined;
  }
}
