// A download's piece fetchers: worker threads beside the store worker (piece-fetch-worker.ts), each
// of which reads FetchPieces calls, hashes every piece and writes the verified ones into the data file
// through a sync access handle of its own. The store worker keeps the queue, the bitfield, its saves
// and the bans, and hears only which pieces were written. Reading, hashing and writing on the store
// worker's one thread cost ~12 CPU-s per GiB there, which held a download near 75-85 MB/s whatever the
// cores (docs/browser-peers.md, Speed).
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
}

interface Call {
  fetcher: Fetcher;
  onWritten: (index: number) => void;
  settle: (error?: Error) => void;
}

/** The piece fetchers of one download (start them with `start`, end them with `close`). */
export class PieceFetchers {
  readonly #fetchers: Fetcher[];
  readonly #calls = new Map<number, Call>();
  #nextCallId = 0;
  #waiting: ((event: FetcherEvent) => void)[] = [];

  private constructor(fetchers: Worker[]) {
    this.#fetchers = fetchers.map((worker) => ({ worker, calls: 0 }));
    for (const fetcher of this.#fetchers) {
      fetcher.worker.onmessage = (message: MessageEvent<FetcherEvent>) => this.#heard(message.data);
      fetcher.worker.onerror = (error) => this.#broke(fetcher, error.message || "a piece fetcher failed");
    }
  }

  /**
   * Starts `min(cores, BROWSER_PEER_FETCH_WORKERS_MAX)` fetchers on `file` (sized to `facts.size`),
   * or answers undefined where a worker cannot start workers: the caller then fetches on its own thread.
   */
  static async start(createWorker: () => Worker, file: FileSystemFileHandle, facts: { size: number; pieceSize: number; pieceHashes: readonly Uint8Array[] }): Promise<PieceFetchers | undefined> {
    if (typeof Worker === "undefined") return undefined;
    const count = Math.min(BROWSER_PEER_FETCH_WORKERS_MAX, Math.max(1, navigator.hardwareConcurrency || 1));
    const fetchers = new PieceFetchers(Array.from({ length: count }, createWorker));
    const opened = await fetchers.#all({ type: "open", file, size: facts.size, pieceSize: facts.pieceSize, pieceHashes: facts.pieceHashes }, "opened");
    const failed = opened.find((event) => event.type === "opened" && event.error !== undefined);
    if (failed !== undefined) {
      await fetchers.close();
      throw new Error(`a piece fetcher could not open the data file: ${(failed as { error: string }).error}`);
    }
    return fetchers;
  }

  /**
   * Fetches `indexes` of `contentId` from the holder at `address` on the least busy fetcher; each
   * piece written (verified) is told to `onWritten`. Rejects with HolderLied when the holder sent
   * something else than asked, StorageFull when the browser stored less, the signal's reason on abort.
   */
  fetch(holder: string, address: string, contentId: string, indexes: number[], signal: AbortSignal, onWritten: (index: number) => void): Promise<void> {
    signal.throwIfAborted();
    const fetcher = this.#fetchers.reduce((best, next) => (next.calls < best.calls ? next : best));
    const callId = this.#nextCallId++;
    fetcher.calls++;
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
    await this.#all({ type: "close" }, "closed");
    for (const fetcher of this.#fetchers) fetcher.worker.terminate();
  }

  async #all(request: FetcherRequest, answer: FetcherEvent["type"]): Promise<FetcherEvent[]> {
    const answers: FetcherEvent[] = [];
    await new Promise<void>((resolve) => {
      const wait = (event: FetcherEvent): void => {
        if (event.type !== answer) return;
        answers.push(event);
        if (answers.length === this.#fetchers.length) {
          this.#waiting = this.#waiting.filter((other) => other !== wait);
          resolve();
        }
      };
      this.#waiting.push(wait);
      for (const fetcher of this.#fetchers) fetcher.worker.postMessage(request);
    });
    return answers;
  }

  /** A fetcher that failed to start or died: its calls fail, and it answers whatever is awaited of it. */
  #broke(fetcher: Fetcher, message: string): void {
    for (const call of [...this.#calls.values()]) if (call.fetcher === fetcher) call.settle(new Error(message));
    for (const wait of [...this.#waiting]) {
      wait({ type: "opened", error: message });
      wait({ type: "closed" });
    }
  }

  #heard(event: FetcherEvent): void {
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
        for (const wait of [...this.#waiting]) wait(event);
    }
  }
}
