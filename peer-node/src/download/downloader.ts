// Multi-source, verified, resumable downloads into the shared folder. One download is one DownloadJob
// (download-job.ts), which goes through these steps:
// 1. ask the directory for holders (holder-lookup.ts); get every holder's manifest and check it against
//    the content id, which is the SHA-256 of the canonical manifest: holders whose manifest the id does
//    not name are refused before any piece is fetched (manifest-choice.ts);
// 2. pull pieces from all those holders at once with FetchPieces, up to 16 pieces per call, each holder
//    with a window of pieces in flight that opens while it delivers and is capped by its measured rate, so
//    fast holders carry more of the file (holder.ts); the pure scheduler (scheduler.ts) decides which
//    pieces go to which holder, and near the end lets idle holders duplicate slow holders' pieces;
// 3. receive each piece straight into a slot of the download's fixed ring (receive-pieces.ts), verify its
//    SHA-256 and write it at its offset in the partial file (piece-worker.ts, partial-download.ts), all
//    run by one try of the job (download-attempt.ts); a bad piece is fetched again from another holder,
//    and a holder with 3 bad pieces is banned for this transfer; a holder that fails or sends no bytes
//    for a while loses its pieces to the others; reading pauses while every slot waits for the disk, so
//    memory is the ring whatever the file size;
// 4. once every piece is verified, let the store move the file in: the id commits to the piece hashes,
//    so no pass over the whole file is needed (docs/content-ids.md).
import { PeerError } from "../errors.js";
import { PartialDownload } from "./partial-download.js";
import { CONTENT_ID_RULE, isContentId, isLegacyContentId, LEGACY_CONTENT_ID_MESSAGE } from "@p2p/directory-api";
import type { Downloader } from "../transfer/api.js";
import { Transfer, type TransferRegistry } from "../transfer/transfer.js";
import { DownloadJob, type JobDeps } from "./download-job.js";
import { downloaderSettings, type DownloaderOptions, type Settings } from "./settings.js";

export type { DownloaderOptions } from "./settings.js";

/** What the downloader needs. */
export interface PieceDownloaderDeps extends JobDeps {
  readonly registry: TransferRegistry;
  readonly options?: DownloaderOptions;
}

/** The downloader of a pserver: one job per content id, resumable across restarts. */
export class PieceDownloader implements Downloader {
  readonly #deps: PieceDownloaderDeps;
  readonly #settings: Settings;
  readonly #shutdown = new AbortController();
  readonly #jobs = new Set<Promise<void>>();

  constructor(deps: PieceDownloaderDeps) {
    this.#deps = deps;
    this.#settings = downloaderSettings(deps.options);
  }

  /** Starts the download of a content id, or returns the running one; failures end the transfer, never throw. */
  download(contentId: string): Transfer {
    const running = this.#deps.registry.findRunning("download", contentId);
    if (running) return running;
    const transfer = this.#deps.registry.add(new Transfer({ kind: "download", contentId, name: "", bytesTotal: 0 }));
    if (!isContentId(contentId)) {
      transfer.finish("failed", `That content id ${isLegacyContentId(contentId) ? LEGACY_CONTENT_ID_MESSAGE : CONTENT_ID_RULE}.`);
      return transfer;
    }
    if (this.#shutdown.signal.aborted) {
      transfer.finish("failed", "The pserver is shutting down.");
      return transfer;
    }
    this.#start(transfer, undefined);
    return transfer;
  }

  /** Restarts the downloads a previous run left unfinished, from their saved verified pieces. */
  async resumeUnfinished(): Promise<Transfer[]> {
    const out: Transfer[] = [];
    const legacy = await PartialDownload.migrateLegacy(this.#deps.store.partialDir);
    for (const { from, to } of legacy.moved) {
      this.#deps.logger.info({ from, to }, "moved an unfinished download an older version started under a whole-file content id to the new id of its manifest; it resumes from its verified pieces");
    }
    if (legacy.removed.length > 0) {
      this.#deps.logger.warn(
        { contentIds: legacy.removed },
        "removed unfinished downloads an older version left whose manifest names no valid content id (or whose new id has state already); download them again by their new ids",
      );
    }
    for (const contentId of await PartialDownload.list(this.#deps.store.partialDir)) {
      if (this.#shutdown.signal.aborted) break;
      if (this.#deps.registry.findRunning("download", contentId)) continue;
      if (this.#deps.store.get(contentId)) {
        await PartialDownload.remove(this.#deps.store.partialDir, contentId);
        continue;
      }
      const partial = await PartialDownload.load(this.#deps.store.partialDir, contentId);
      if (!partial) continue;
      if (this.#deps.registry.findRunning("download", contentId) || this.#shutdown.signal.aborted) {
        // Download was called for it meanwhile: that job loads the same saved state itself.
        await partial.close();
        continue;
      }
      const transfer = this.#deps.registry.add(
        new Transfer({ kind: "download", contentId, name: partial.name, bytesTotal: partial.manifest.size }),
      );
      // Its saved pieces show at once, not only after holders are found.
      transfer.setBytesDone(partial.verifiedBytes());
      this.#start(transfer, partial);
      out.push(transfer);
    }
    return out;
  }

  /** Stops every download (their verified pieces are kept for resumeUnfinished) and waits for them. */
  async close(): Promise<void> {
    this.#shutdown.abort(new PeerError("SHUTTING_DOWN", "The pserver is shutting down; the download resumes when it starts again."));
    await Promise.allSettled([...this.#jobs]);
  }

  #start(transfer: Transfer, partial: PartialDownload | undefined): void {
    const job = new DownloadJob(this.#deps, this.#settings, transfer, this.#shutdown.signal, partial);
    const p = job.run();
    this.#jobs.add(p);
    void p.finally(() => this.#jobs.delete(p));
  }
}
