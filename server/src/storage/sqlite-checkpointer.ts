// Checkpoints the WAL from a worker thread with its own connection. SQLite's automatic checkpoint runs
// inside whichever commit crosses 1,000 WAL pages, fsync included, on the event loop: under heartbeat
// load that was several times a second, and an fsync here takes 0.2 ms typically but 3-11 ms when the
// disk is busy, stalling every request. PASSIVE checkpoints never block the main connection.

import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { SQLITE_CHECKPOINT_INTERVAL_MS } from "../constants.js";
import { threadBundle } from "./thread-bundle.js";
import type { WalCheckpointData } from "./wal-checkpoint-thread.js";

const THREAD_MODULE = new URL("./wal-checkpoint-thread.ts", import.meta.url);

/** The worker that checkpoints one database file's WAL, while the main connection `db` does not. */
export class WalCheckpointer {
  #worker: Worker | undefined;
  #stopped = false;
  readonly #started: Promise<void>;

  /**
   * Starts checkpointing the database file at `path`, which `db` has open. Until the thread runs (its
   * bundle is made on first use), the connection keeps checkpointing by itself, as SQLite does by default.
   */
  constructor(db: Database.Database, path: string) {
    this.#started = threadBundle(THREAD_MODULE).then(
      (file) => this.#spawn(file, db, path),
      () => undefined,
    );
  }

  #spawn(file: URL, db: Database.Database, path: string): void {
    if (this.#stopped || !db.open) return;
    const workerData: WalCheckpointData = { path, intervalMs: SQLITE_CHECKPOINT_INTERVAL_MS };
    const worker = new Worker(file, { workerData });
    worker.unref();
    db.pragma("wal_autocheckpoint = 0");
    // If the worker cannot run, the connection checkpoints by itself again, as SQLite does by default.
    const fallBack = () => {
      if (this.#worker === worker && db.open) db.pragma("wal_autocheckpoint = 1000");
      if (this.#worker === worker) this.#worker = undefined;
    };
    worker.once("error", fallBack);
    worker.once("exit", fallBack);
    this.#worker = worker;
  }

  /** Runs a last checkpoint and stops the worker (before the main connection closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#started;
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    // Unreferenced, the worker would let the process exit before it finished its last checkpoint.
    worker.ref();
    worker.postMessage("close");
    await exited;
  }
}
