// SQLite searches in worker threads. better-sqlite3 is synchronous, so on the store's own connection a
// search holds the event loop for its whole run (1.1 ms mean, 5-7 ms at p99 at 1M rows), and two
// clients' searches queue behind each other and behind every heartbeat. Each thread here has its own
// read-only connection: WAL lets it read while the store's connection writes, and the threads use the
// machine's other cores. The plan still starts on the store's thread, which keeps the trigram counts:
// each request carries the few counts its plan reads (TrigramStats.sampleFor), so a thread plans
// exactly as the store would at the moment the search was asked.
//
// A search sees what was committed when the thread runs it, which may include a write made after it
// was asked (as a search on the store's thread sees what was committed before it): the counts it
// carries are a moment older than the rows it reads. Counts only steer the plan, except a count of zero
// ("nobody has this trigram"): a name published between the two moments may be missed, as it would
// have been had the search run a moment earlier.

import { Worker } from "node:worker_threads";
import { threadBundle } from "./thread-bundle.js";
import type { SearchThreadData, SearchThreadReply, SearchThreadRequest } from "./sqlite-search-thread.js";
import type { SearchPage } from "./store.js";

const THREAD_MODULE = new URL("./sqlite-search-thread.ts", import.meta.url);

/** A search as the store hands it over (the threads number them). */
export type SearchRequest = Omit<SearchThreadRequest, "id">;

interface Pending {
  readonly request: SearchRequest;
  resolve(page: SearchPage): void;
  reject(error: Error): void;
}

interface SearchThread {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

/** The search threads of one SQLite database file. */
export class SqliteSearchThreads {
  readonly #threads: SearchThread[] = [];
  readonly #runHere: (request: SearchRequest) => SearchPage;
  readonly #started: Promise<void>;
  #nextId = 0;
  #served = 0;
  #stopped = false;

  /**
   * Starts `count` threads on the database file at `path`. Until they run (their bundle is made on
   * first use), and whenever none runs, search() answers null and the store searches on its own
   * connection; `runHere` does that for searches a thread was given and could not answer (it died).
   */
  constructor(path: string, count: number, runHere: (request: SearchRequest) => SearchPage) {
    this.#runHere = runHere;
    this.#started = threadBundle(THREAD_MODULE).then(
      (file) => {
        for (let i = 0; i < count && !this.#stopped; i += 1) this.#spawn(file, path);
      },
      () => undefined,
    );
  }

  /** Threads running now. */
  get running(): number {
    return this.#threads.length;
  }

  /** Searches the threads have answered so far. */
  get served(): number {
    return this.#served;
  }

  /** Resolves once the threads have been started (or could not be), with how many run. */
  async ready(): Promise<number> {
    await this.#started;
    return this.#threads.length;
  }

  /** The page from the least busy thread, or null when no thread runs (search on the store's connection). */
  search(request: SearchRequest): Promise<SearchPage> | null {
    if (this.#stopped) return null;
    let chosen: SearchThread | undefined;
    for (const thread of this.#threads) if (!chosen || thread.pending.size < chosen.pending.size) chosen = thread;
    if (!chosen) return null;
    const thread = chosen;
    const id = (this.#nextId += 1);
    return new Promise<SearchPage>((resolve, reject) => {
      // Referenced only while it owes an answer: an idle thread never keeps the process alive.
      if (thread.pending.size === 0) thread.worker.ref();
      thread.pending.set(id, { request, resolve, reject });
      thread.worker.postMessage({ ...request, id } satisfies SearchThreadRequest);
    });
  }

  /** Lets the threads answer what they were given, then stops them (before the store's connection closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#started;
    await Promise.all(
      this.#threads.map((thread) => {
        const exited = new Promise((resolve) => thread.worker.once("exit", resolve));
        thread.worker.ref();
        // Messages are handled in order: "close" comes after every search already posted.
        thread.worker.postMessage("close");
        return exited;
      }),
    );
  }

  #spawn(file: URL, path: string): void {
    const workerData: SearchThreadData = { path };
    const worker = new Worker(file, { workerData });
    worker.unref();
    const thread: SearchThread = { worker, pending: new Map() };
    worker.on("message", (reply: SearchThreadReply) => {
      const pending = thread.pending.get(reply.id);
      if (!pending) return;
      thread.pending.delete(reply.id);
      if (thread.pending.size === 0) worker.unref();
      if ("page" in reply) {
        this.#served += 1;
        pending.resolve(reply.page);
      } else pending.reject(new Error(`search thread: ${reply.error}`));
    });
    // A thread that fails or exits takes no more searches; what it owed is searched on the store's connection.
    const gone = () => {
      const at = this.#threads.indexOf(thread);
      if (at >= 0) this.#threads.splice(at, 1);
      for (const pending of thread.pending.values()) {
        try {
          pending.resolve(this.#runHere(pending.request));
        } catch (error) {
          pending.reject(error as Error);
        }
      }
      thread.pending.clear();
    };
    worker.once("error", gone);
    worker.once("exit", gone);
    this.#threads.push(thread);
  }
}
