// The worker thread of WalCheckpointer (sqlite-checkpointer.ts, which bundles it for plain Node): its own connection to the database
// file, a PASSIVE checkpoint every interval, and a last one when told to stop.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

/** What WalCheckpointer hands the thread. */
export interface WalCheckpointData {
  /** The database file whose WAL this thread checkpoints. */
  readonly path: string;
  /** Time between checkpoints. */
  readonly intervalMs: number;
}

/** A message from the thread: a checkpoint that failed (the next one is tried anyway). */
export interface WalCheckpointFailure {
  readonly error: string;
}

const port = parentPort;
if (!port) throw new Error("wal-checkpoint-thread runs only as a worker thread");
const data = workerData as WalCheckpointData;
const db = new Database(data.path);
// Never wait for the main connection's lock: a PASSIVE checkpoint that finds it busy just does less.
db.pragma("busy_timeout = 0");
const checkpoint = (): void => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (error) {
    port.postMessage({ error: String(error) } satisfies WalCheckpointFailure);
  }
};
const timer = setInterval(checkpoint, data.intervalMs);
port.on("message", () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  port.close();
});
