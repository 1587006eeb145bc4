// Checkpoints the WAL from a worker thread with its own connection. SQLite's automatic checkpoint runs
// inside whichever commit crosses 1,000 WAL pages, fsync included, on the event loop: under heartbeat
// load that was several times a second, and an fsync here takes 0.2 ms typically but 3-11 ms when the
// disk is busy, stalling every request. PASSIVE checkpoints never block the main connection.

import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { SQLITE_CHECKPOINT_INTERVAL_MS } from "../constants.js";

const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 0");
const checkpoint = () => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch (error) { parentPort.postMessage({ error: String(error) }); }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/** The worker that checkpoints one database file's WAL, while the main connection `db` does not. */
export class WalCheckpointer {
  #worker: Worker | undefined;

  /** Starts checkpointing the database file at `path`, which `db` has open. */
  constructor(db: Database.Database, path: string) {
    const worker = new Worker(CHECKPOINTER_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve("better-sqlite3"),
        path,
        intervalMs: SQLITE_CHECKPOINT_INTERVAL_MS,
      },
    });
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
