// A download's piece fetchers: worker threads beside the store worker (piece-fetch-worker.ts), each
// of which reads FetchPieces calls, hashes every piece and writes the verified ones into the data file
// through a sync access handle of its own. The store worker keeps the queue, the bitfield, its saves
// and the bans, and hears only which pieces were written. Reading, hashing and writing on the store
// worker's one thread cost ~12 CPU-s per GiB there, which held a download near 75-85 MB/s whatever the
// cores. Each fetcher takes one call at a time, more fetchers starting as calls need them: a thread
// reading two fetch bodies at once pays twice the CPU per byte (docs/browser-peers.md, Speed).
import { BROWSER_PEER_FETCH_WORKERS_MAX } from "../constants.js";
import { HolderLied } from "./piece-check.js";
import { StorageFull } from "./opfs-layout.js";

/** What the store worker asks of a piece fetcher. */
export type FetcherRequest =
  | {
      type: "open";
      /** The download's data file, already sized; every fetcher writes into it at piece offsets. */
      file: FileSystemFileHandle;
      size: number;
      pieceSize: number;
      pieceHashes: readonly Uint8Array[];
    }
  | { type: "fetch"; callId: number; holder: string; address: string; contentId: string; indexes: number[] }
  | { type: "cancel"; callId: number }
  | { type: "close" };

/** What a piece fetcher answers. */
export type FetcherEvent =
  | { type: "opened"; error?: string }
  | { type: "written"; callId: number; index: number }
  | { type: "ended"; callId: number; error?: { kind: "lied" | "storage-full" | "failed"; message: string } }
  | { type: "closed" };

interface Fetcher {
  worker: Worker;
  calls: number;
  /** Who awaits this fetcher's "opened" or "closed". */
  waiting: ((event: FetcherEvent) => void) | undefined;
}

interface Call {
  fetcher: Fetcher;
  onWritten: (index: number) => void;
  settle: (error?: Error) => void;
}

type OpenRequest = Extract<FetcherRequest, { type: "open" }>;

/** The piece fetchers of one download (start them with `start`, end them with `close`). */
export class PieceFetchers {
  readonly #createWorker: () => Worker;
  readonly #open: OpenRequest;
  readonly #fetchers: Fetcher[] = [];
  /** Fetchers being started: a call waits for one rather than starting another. */
  #starting: Promise<Fetcher> | undefined;
  readonly #calls = new Map<number, Call>();
  #nextCallId = 0;

  private constructor(createWorker: () => Worker, open: OpenRequest) {
    this.#createWorker = createWorker;
    this.#open = open;
  }

  /**
   * Starts a first fetcher on `file` (sized to `facts.size`); more start as calls need them, one call
   * each (up to BROWSER_PEER_FETCH_WORKERS_MAX). Answers undefined where a worker cannot start
   * workers: the caller then fetches on its own thread.
   */
  static async start(createWorker: () => Worker, file: FileSystemFileHandle, facts: { size: number; pieceSize: number; pieceHashes: readonly Uint8Array[] }): Promise<PieceFetchers | undefined> {
    if (typeof Worker === "undefined") return undefined;
    const fetchers = new PieceFetchers(createWorker, { type: "open", file, size: facts.size, pieceSize: facts.pieceSize, pieceHashes: facts.pieceHashes });
    fetchers.#starting = fetchers.#startOne().finally(() => (fetchers.#starting = undefined));
    await fetchers.#starting;
    return fetchers;
  }

  /**
   * Fetches `indexes` of `contentId` from the holder at `address` on an idle fetcher (a new one while
   * there are fewer than BROWSER_PEER_FETCH_WORKERS_MAX, else the least busy); each piece written
   * (verified) is told to `onWritten`. Rejects with HolderLied when the holder sent something else
   * than asked, StorageFull when the browser stored less, the signal's reason on abort.
   */
  async fetch(holder: string, address: string, contentId: string, indexes: number[], signal: AbortSignal, onWritten: (index: number) => void): Promise<void> {
    signal.throwIfAborted();
    const fetcher = await this.#claimFetcher();
    if (signal.aborted) {
      fetcher.calls--;
      throw signal.reason;
    }
    const callId = this.#nextCallId++;
    return new Promise<void>((resolve, reject) => {
      const cancel = (): void => fetcher.worker.postMessage({ type: "cancel", callId } satisfies FetcherRequest);
      signal.addEventListener("abort", cancel, { once: true });
      this.#calls.set(callId, {
        fetcher,
        onWritten,
        settle: (error) => {
          fetcher.calls--;
          this.#calls.delete(callId);
          signal.removeEventListener("abort", cancel);
          if (signal.aborted) reject(signal.reason);
          else if (error !== undefined) reject(error);
          else resolve();
        },
      });
      fetcher.worker.postMessage({ type: "fetch", callId, holder, address, contentId, indexes } satisfies FetcherRequest);
    });
  }

  /** Closes the fetchers' handles on the data file (its locks) and ends their threads. */
  async close(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    await Promise.all(this.#fetchers.map((fetcher) => this.#ask(fetcher, { type: "close" }, "closed")));
    for (const fetcher of this.#fetchers) fetcher.worker.terminate();
    this.#fetchers.length = 0;
  }

  /**
   * A fetcher with no call (started if need be), its call counted at once so that no other call
   * takes it meanwhile. One call per thread: a worker reading two fetch
   * bodies at once spent twice the CPU per byte of two workers reading one each (docs/browser-peers.md, Speed).
   */
  async #claimFetcher(): Promise<Fetcher> {
    const claim = (fetcher: Fetcher): Fetcher => {
      fetcher.calls++;
      return fetcher;
    };
    for (;;) {
      const idle = this.#fetchers.find((fetcher) => fetcher.calls === 0);
      if (idle !== undefined) return claim(idle);
      if (this.#starting !== undefined) {
        await this.#starting;
        continue;
      }
      if (this.#fetchers.length >= BROWSER_PEER_FETCH_WORKERS_MAX) return claim(this.#fetchers.reduce((best, next) => (next.calls < best.calls ? next : best)));
      this.#starting = this.#startOne().finally(() => (this.#starting = undefined));
      return claim(await this.#starting);
    }
  }

  async #startOne(): Promise<Fetcher> {
    const fetcher: Fetcher = { worker: this.#createWorker(), calls: 0, waiting: undefined };
    fetcher.worker.onmessage = (message: MessageEvent<FetcherEvent>) => this.#heard(fetcher, message.data);
    fetcher.worker.onerror = (error) => this.#broke(fetcher, error.message || "a piece fetcher failed");
    const opened = await this.#ask(fetcher, this.#open, "opened");
    if (opened.type === "opened" && opened.error !== undefined) {
      fetcher.worker.terminate();
      throw new Error(`a piece fetcher could not open the data file: ${opened.error}`);
    }
    this.#fetchers.push(fetcher);
    return fetcher;
  }

  #ask(fetcher: Fetcher, request: FetcherRequest, answer: FetcherEvent["type"]): Promise<FetcherEvent> {
    return new Promise<FetcherEvent>((resolve) => {
      fetcher.waiting = (event) => {
        if (event.type !== answer) return;
        fetcher.waiting = undefined;
        resolve(event);
      };
      fetcher.worker.postMessage(request);
    });
  }

  /** A fetcher that failed to start or died: its calls fail, and it answers whatever is awaited of it. */
  #broke(fetcher: Fetcher, message: string): void {
    for (const call of [...this.#calls.values()]) if (call.fetcher === fetcher) call.settle(new Error(message));
    fetcher.waiting?.({ type: "opened", error: message });
    fetcher.waiting?.({ type: "closed" });
  }

  #heard(fetcher: Fetcher, event: FetcherEvent): void {
    switch (event.type) {
      case "written":
        this.#calls.get(event.callId)?.onWritten(event.index);
        break;
      case "ended": {
        const error = event.error;
        this.#calls
          .get(event.callId)
          ?.settle(error === undefined ? undefined : error.kind === "lied" ? new HolderLied(error.message) : error.kind === "storage-full" ? new StorageFull() : new Error(error.message));
        break;
      }
      default:
        fetcher.waiting?.(event);
    }
  }
}
