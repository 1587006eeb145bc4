// A search thread of SqliteSearchThreads (sqlite-search-threads.ts, which bundles it for plain Node):
// its own read-only connection to the database file (WAL lets it read while the store's connection
// writes), the same search code as the store's, planned from the trigram counts each request carries.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { SQLITE_BUSY_TIMEOUT_MS, SQLITE_CACHE_KIB, SQLITE_MMAP_BYTES } from "../constants.js";
import { SqliteSearch } from "./sqlite-search.js";
import { prepareSearchStatements } from "./sqlite-statements.js";
import type { SearchOptions, SearchPage } from "./store.js";
import { SampledTrigrams, type TrigramSample } from "./trigram-stats.js";

/** What SqliteSearchThreads hands a thread. */
export interface SearchThreadData {
  /** The database file to search. */
  readonly path: string;
}

/** One search, as the store planned to run it at the moment it was asked. */
export interface SearchThreadRequest {
  readonly id: number;
  /** The lower-cased query. */
  readonly key: string;
  /** The store's "now", for liveness. */
  readonly now: number;
  readonly options: SearchOptions;
  /** The store's trigram counts the plan of `key` reads. */
  readonly trigrams: TrigramSample;
  /** How many contents the store held. */
  readonly contents: number;
}

/** The thread's answer to one request: the page, or why there is none. */
export type SearchThreadReply = { readonly id: number; readonly page: SearchPage } | { readonly id: number; readonly error: string };

const port = parentPort;
if (!port) throw new Error("sqlite-search-thread runs only as a worker thread");
const data = workerData as SearchThreadData;
const db = new Database(data.path, { readonly: true, fileMustExist: true });
db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
db.pragma(`mmap_size = ${SQLITE_MMAP_BYTES}`);
db.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
const search = new SqliteSearch(prepareSearchStatements(db));

port.on("message", (message: SearchThreadRequest | "close") => {
  if (message === "close") {
    db.close();
    port.close();
    return;
  }
  const { id, key, now, options, trigrams, contents } = message;
  let reply: SearchThreadReply;
  try {
    reply = { id, page: search.search(key, now, options, { trigrams: new SampledTrigrams(trigrams), contents }) };
  } catch (error) {
    reply = { id, error: String(error) };
  }
  port.postMessage(reply);
});
