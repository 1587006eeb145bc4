// The whole life of one download: start (or resume from the partial file a previous run left), get the
// manifest the content id names from the holders (manifest-choice.ts), check the disk, fetch and verify
// every piece (download-attempt.ts), hand the file to the store, and end: completed, cancelled (nothing
// kept), interrupted by shutdown (resume state saved), or failed (verified pieces kept only when the
// network, not the data, was at fault). No pass over the whole file: the id commits to the piece hashes,
// so a file whose every piece matched its hash is the file the id names.
import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import { DISK_FREE_RESERVE_BYTES } from "../constants.js";
import { PeerError, isDiskFull } from "../errors.js";
import type { PeerClients } from "../pieces/peer-clients.js";
import type { FileStore, Manifest } from "../store/file-store.js";
import { sanitizeFileName } from "../store/names.js";
import type { FindHolders } from "../transfer/api.js";
import { formatBytes } from "../transfer/format.js";
import type { Transfer } from "../transfer/transfer.js";
import { DownloadAttempt } from "./download-attempt.js";
import { HolderLookup } from "./holder-lookup.js";
import { VerifiedManifestChoice, type ManifestChoice } from "./manifest-choice.js";
import { PartialDownload } from "./partial-download.js";
import { PieceWorker } from "./piece-worker.js";
import { SaveCadence } from "./save-cadence.js";
import type { Settings } from "./settings.js";

/** What a download job needs of its pserver. */
export interface JobDeps {
  readonly store: FileStore;
  readonly findHolders: FindHolders;
  readonly peers: PeerClients;
  readonly logger: Logger;
  /** This peer's name (never used as a holder); a function when it can change at login. */
  readonly selfName: string | (() => string);
}

/** The whole life of one download. */
export class DownloadJob {
  readonly #deps: JobDeps;
  readonly #s: Settings;
  readonly #transfer: Transfer;
  readonly #log: Logger;
  /** Aborts on cancel, shutdown, or the end of the job. */
  readonly #controller = new AbortController();
  readonly #shutdown: AbortSignal;
  readonly #detach: () => void;
  readonly #lookup: HolderLookup;
  readonly #manifests: ManifestChoice;
  readonly #saves = new SaveCadence(Date.now());
  #partial: PartialDownload | undefined;
  #manifest!: Manifest;
  /** The current try; undefined before the first is prepared and between tries. */
  #attempt: DownloadAttempt | undefined;
  /** Holders banned for bad pieces, and those that sent a manifest the content id does not name. */
  readonly #banned = new Set<string>();

  /** A job for `transfer`; `partial` is the saved state when resumeUnfinished found it. */
  constructor(deps: JobDeps, settings: Settings, transfer: Transfer, shutdown: AbortSignal, partial: PartialDownload | undefined) {
    this.#deps = deps;
    this.#s = settings;
    this.#transfer = transfer;
    this.#shutdown = shutdown;
    this.#partial = partial;
    this.#log = deps.logger.child({ transfer: transfer.id, contentId: transfer.contentId });
    const signal = this.#controller.signal;
    // Every call in flight listens to the job's signal; dozens at once are normal, not a leak.
    setMaxListeners(1_000, signal);
    const onCancel = () => this.#controller.abort(transfer.signal.reason);
    const onShutdown = () => this.#controller.abort(shutdown.reason);
    transfer.signal.addEventListener("abort", onCancel, { once: true });
    shutdown.addEventListener("abort", onShutdown, { once: true });
    // The shutdown signal is shared by every download: let go of it when this one ends.
    this.#detach = () => {
      transfer.signal.removeEventListener("abort", onCancel);
      shutdown.removeEventListener("abort", onShutdown);
    };
    if (transfer.signal.aborted || shutdown.aborted) this.#controller.abort();
    const { contentId } = transfer;
    const excluded = (name: string) => this.#banned.has(name) || this.#manifests.distrusted.has(name);
    this.#lookup = new HolderLookup({ contentId, findHolders: deps.findHolders, selfName: deps.selfName, excluded, logger: this.#log, signal });
    this.#manifests = new VerifiedManifestChoice({
      contentId,
      lookup: this.#lookup,
      peers: deps.peers,
      logger: this.#log,
      signal,
      manifestTimeoutMs: settings.manifestTimeoutMs,
      noHolderGraceMs: settings.noHolderGraceMs,
    });
  }

  get #signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Runs the download to its end; never throws (the transfer carries the outcome). */
  async run(): Promise<void> {
    const t = this.#transfer;
    try {
      const held = this.#deps.store.get(t.contentId);
      if (held) {
        t.update({ name: held.name, bytesTotal: held.size });
        t.setBytesDone(held.size);
        t.finish("completed");
        return;
      }
      await this.#fetch();
      const partial = this.#partial!;
      await partial.finish();
      const stored = await this.#deps.store.adopt({ tempPath: partial.partPath, name: partial.name, manifest: this.#manifest });
      await PartialDownload.remove(this.#deps.store.partialDir, t.contentId);
      t.update({ name: stored.name });
      t.setBytesDone(this.#manifest.size);
      t.finish("completed");
      this.#log.info({ name: stored.name, refetched: this.#attempt?.refetched ?? 0 }, "download completed");
    } catch (err) {
      await this.#end(err);
    } finally {
      this.#controller.abort();
      this.#detach();
    }
  }

  /** Prepares, then fetches and verifies every piece against the manifest the content id names. */
  async #fetch(): Promise<void> {
    const t = this.#transfer;
    const attempt = await this.#prepare();
    t.update({ state: "running" });
    await attempt.fetchAll();
    // Endgame twins still on the wire are no longer needed.
    attempt.stopFetching();
    t.update({ state: "verifying", sources: [] });
    await attempt.finish();
  }

  /** Ends a failed, cancelled or interrupted download, keeping or discarding its partial state. */
  async #end(err: unknown): Promise<void> {
    const t = this.#transfer;
    this.#controller.abort();
    await this.#attempt?.stop();
    const partial = this.#partial;
    if (t.signal.aborted) {
      await partial?.discard();
      if (!partial) await PartialDownload.remove(this.#deps.store.partialDir, t.contentId);
      t.finish("cancelled");
      return;
    }
    if (this.#shutdown.aborted) {
      await partial?.save().catch(() => undefined);
      await partial?.close();
      t.finish("failed", "The pserver stopped; the download resumes when it starts again.");
      return;
    }
    // Network trouble keeps the verified pieces (a later download of the same file resumes); anything
    // that touches integrity or space discards them.
    const keep = err instanceof PeerError && err.code === "unavailable" && partial !== undefined && partial.verifiedBytes() > 0;
    if (keep) {
      await partial.save().catch(() => undefined);
      await partial.close();
    } else {
      await partial?.discard();
    }
    const message = describeFailure(err) + (keep ? " The verified part is kept: download it again to resume." : "");
    if (!(err instanceof PeerError)) this.#log.error({ err }, "download failed");
    else this.#log.info({ reason: message }, "download failed");
    t.finish("failed", message);
  }

  /** Loads saved state, chooses the manifest, checks the disk and sets up a try with the partial file. */
  async #prepare(): Promise<DownloadAttempt> {
    const t = this.#transfer;
    const store = this.#deps.store;
    // Started by Download (not by resumeUnfinished): pick up a previous run's verified pieces.
    if (!this.#partial) {
      this.#partial = await PartialDownload.load(store.partialDir, t.contentId);
      if (this.#partial && this.#signal.aborted) {
        await this.#partial.close();
        this.#partial = undefined;
        this.#signal.throwIfAborted();
      }
      if (this.#partial) t.update({ name: this.#partial.name, bytesTotal: this.#partial.manifest.size });
      if (this.#partial) t.setBytesDone(this.#partial.verifiedBytes());
    }
    const saved = this.#partial;
    // The piece worker starts while the holders are asked for the manifest (piece-worker.ts says why);
    // the try opens it once the manifest is checked and the partial file is there.
    const worker = new PieceWorker();
    let attempt: DownloadAttempt;
    try {
      attempt = await this.#prepareWith(saved, worker);
    } catch (err) {
      worker.destroy();
      throw err;
    }
    return attempt;
  }

  /** #prepare from the manifest on, with the piece worker it started. */
  async #prepareWith(saved: PartialDownload | undefined, worker: PieceWorker): Promise<DownloadAttempt> {
    const t = this.#transfer;
    const store = this.#deps.store;
    const chosen = await this.#manifests.choose(saved?.manifest);
    // Holders refused for their manifest show with the banned ones, and are never asked for pieces.
    for (const name of this.#manifests.distrusted) this.#banned.add(name);
    if (this.#banned.size > 0) t.update({ bannedPeers: [...this.#banned] });
    const manifest = chosen.manifest;
    this.#manifest = manifest;
    const name = this.#partial?.name ?? sanitizeFileName(manifest.name, `download-${t.contentId.slice(0, 12)}`);
    t.update({ name, bytesTotal: manifest.size });

    const alreadyVerified = this.#partial?.verifiedBytes() ?? 0;
    const needed = manifest.size - alreadyVerified + DISK_FREE_RESERVE_BYTES;
    const free = await store.freeBytes();
    if (free < needed) {
      throw new PeerError(
        "DISK_FULL",
        `Not enough disk space: the file needs ${formatBytes(manifest.size - alreadyVerified)} more and only ${formatBytes(Math.max(0, free - DISK_FREE_RESERVE_BYTES))} can be used.`,
      );
    }
    try {
      this.#partial ??= await PartialDownload.create(store.partialDir, manifest, name);
    } catch (err) {
      if (isDiskFull(err)) throw new PeerError("DISK_FULL", "The disk is full; the download could not start.", { cause: err });
      throw err;
    }
    const context = {
      peers: this.#deps.peers,
      settings: this.#s,
      transfer: t,
      log: this.#log,
      controller: this.#controller,
      lookup: this.#lookup,
      manifests: this.#manifests,
      banned: this.#banned,
      saves: this.#saves,
      refetchedBefore: 0,
      pieceWorker: worker,
    };
    const attempt = new DownloadAttempt(context, manifest, this.#partial, chosen.holders);
    this.#attempt = attempt;
    t.setBytesDone(attempt.verifiedBytes);
    return attempt;
  }
}

/** A sentence for a person about why a download failed. */
function describeFailure(err: unknown): string {
  if (err instanceof PeerError) return err.message;
  if (isDiskFull(err)) return "The disk is full; the download was stopped and nothing unverified was kept.";
  return "The download failed because of an internal error; see the pserver log.";
}
