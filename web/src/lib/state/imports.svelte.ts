import type { ClientApi } from "../client/api.js";
import { importChunked, type ChunkedImportOptions } from "../client/chunked-import.js";
import { ErrorReason, type LocalFile } from "../client/gen.js";
import { reasonOf } from "../client/errors.js";
import { fileKey, type HashCache } from "../hash.js";
import { describeOnly, type ErrorReporter } from "./report.js";
import type { TransfersState } from "./transfers.svelte.js";

/** Dependencies of {@link ImportsState}. */
export interface ImportsDeps {
  api: ClientApi;
  transfers: TransfersState;
  /** Whether this peer already holds a content (nothing to import then). */
  holds: (contentId: string) => boolean;
  /** Called with each file the pserver now holds. */
  onImported?: (file: LocalFile) => void;
  hashCache?: HashCache;
  reportError?: ErrorReporter;
  /** Overrides of the chunked import's tunables (tests use small ones). */
  chunkOptions?: Pick<ChunkedImportOptions, "parallelChunks" | "retries" | "retryBaseMs" | "sendChunk">;
  now?: () => number;
}

interface Job {
  file: File;
  id: string;
  controller: AbortController;
}

/**
 * Brings files from the browser into the shared folder, one file at a time: parallel ImportChunk
 * calls of the file's slices, then FinishImport, which answers the content id. The tab does not hash
 * the file: the pserver hashes every piece as it writes it (docs/browser-peers.md, Speed: reading the
 * file into the page to hash it cost more CPU than sending it). A file imported before (the hash
 * cache, by name, size and modification time) that the folder holds is not sent again. Each file is a
 * transfer in the transfer list from the moment it is dropped, with its own cancel.
 */
export class ImportsState {
  /** Files waiting or being imported right now. */
  pending = $state(0);
  #queue: Job[] = [];
  #draining = false;
  #deps: ImportsDeps;

  constructor(deps: ImportsDeps) {
    this.#deps = deps;
  }

  /** Queues files for import; returns their transfer ids. */
  add(files: Iterable<File>): string[] {
    const ids: string[] = [];
    for (const file of files) {
      const view = this.#deps.transfers.addLocal({ kind: "import", name: file.name, bytesTotal: file.size });
      const job: Job = { file, id: view.id, controller: new AbortController() };
      this.#deps.transfers.setCanceller(job.id, () => this.#cancel(job));
      this.#queue.push(job);
      ids.push(view.id);
    }
    this.#countPending();
    void this.#drain();
    return ids;
  }

  /** Resolves once every queued file has been dealt with (for tests and the benchmark). */
  async idle(): Promise<void> {
    while (this.#draining || this.#queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** Stops every queued and running import (logout). */
  reset(): void {
    for (const job of this.#queue) job.controller.abort();
    this.#queue = [];
  }

  #cancel(job: Job): void {
    job.controller.abort();
    const index = this.#queue.indexOf(job);
    if (index >= 0) {
      // Still waiting its turn: nothing was sent, so it simply ends here.
      this.#queue.splice(index, 1);
      this.#countPending();
      this.#deps.transfers.patch(job.id, { phase: "cancelled" });
      this.#deps.transfers.setCanceller(job.id, undefined);
    }
  }

  #countPending(): void {
    this.pending = this.#queue.length + (this.#draining ? 1 : 0);
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
        this.#countPending();
        await this.#run(job);
      }
    } finally {
      this.#draining = false;
      this.#countPending();
    }
  }

  async #run(job: Job): Promise<void> {
    const { transfers, api } = this.#deps;
    const { file } = job;
    const signal = job.controller.signal;
    const now = this.#deps.now ?? Date.now;
    let id = job.id;
    let importId: string | undefined;
    // The transfer list turns these byte counts into a smoothed speed and time left.
    const progress = (bytesDone: number): void => transfers.progress(id, bytesDone);

    try {
      transfers.patch(id, { phase: "queued", bytesDone: 0, startedAtMs: now() });
      const contentId = this.#deps.hashCache?.get(file);
      if (contentId !== undefined) {
        transfers.patch(id, { contentId });
        if (this.#deps.holds(contentId)) {
          transfers.patch(id, { phase: "completed", bytesDone: file.size, note: "Already in your shared files." });
          return;
        }
      }

      const imported = await importChunked(
        api,
        { blob: file, name: file.name, contentId: contentId ?? "", resumeKey: fileKey(file) },
        {
          ...this.#deps.chunkOptions,
          signal,
          onBegin: (serverId, bytesAlready) => {
            importId = serverId;
            id = transfers.adopt(id, serverId);
            transfers.patch(id, {
              phase: "running",
              bytesDone: bytesAlready,
              note: bytesAlready > 0 ? "Resumed where it stopped." : "",
            });
          },
          onProgress: progress,
          onVerifying: () => transfers.patch(id, { phase: "verifying" }),
        },
      );
      this.#deps.hashCache?.set(file, imported.contentId);
      // A copy of a held file (under another name or date) is named only once it arrived: the pserver kept the one it had.
      const note = this.#deps.holds(imported.contentId) ? { note: "Already in your shared files." } : {};
      transfers.patch(id, { phase: "completed", bytesDone: file.size, contentId: imported.contentId, name: imported.name, ...note });
      this.#deps.onImported?.(imported);
    } catch (error) {
      if (signal.aborted) {
        transfers.patch(id, { phase: "cancelled" });
        // Discard what the pserver already received; best effort, the person asked to stop.
        if (importId !== undefined) await api.cancelTransfer({ transferId: importId }).catch(() => undefined);
        return;
      }
      if (reasonOf(error) === ErrorReason.ALREADY_HELD) {
        // The pserver holds this content already (under some name): nothing to send, nothing lost.
        transfers.patch(id, { phase: "completed", bytesDone: file.size, note: "Already in your shared files." });
        return;
      }
      // A mismatch means the cached content id was stale (the file changed on disk): send it unnamed next time.
      if (reasonOf(error) === ErrorReason.HASH_MISMATCH) this.#deps.hashCache?.delete(file);
      const sentence = (this.#deps.reportError ?? describeOnly)(error, "import");
      transfers.patch(id, { phase: "failed", error: sentence });
    } finally {
      transfers.setCanceller(id, undefined);
    }
  }
}
