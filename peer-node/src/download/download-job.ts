// The whole life of one download: start (or resume from the partial file a previous run left), choose
// the manifest, check the disk, run tries (download-attempt.ts) until the whole file hashes to its content
// id, hand the file to the store, and end: completed, cancelled (nothing kept), interrupted by shutdown
// (resume state saved), or failed (verified pieces kept only when the network, not the data, was at fault).
import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import { DISK_FREE_RESERVE_BYTES } from "../constants.js";
import { PeerError, isDiskFull, isPeerError } from "../errors.js";
import type { PeerClients } from "../pieces/peer-clients.js";
import type { FileStore, Manifest } from "../store/file-store.js";
import { sanitizeFileName } from "../store/names.js";
import type { FindHolders } from "../transfer/api.js";
import { formatBytes } from "../transfer/format.js";
import type { Transfer } from "../transfer/transfer.js";
import { DownloadAttempt } from "./download-attempt.js";
import { HolderLookup } from "./holder-lookup.js";
import { MajorityManifestChoice, type ManifestChoice } from "./manifest-choice.js";
import { PartialDownload } from "./partial-download.js";
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
  /** A manifest proved wrong and this is a later try. */
  #retried = false;
  /** Holders banned for bad pieces in this try, and those distrusted since an earlier one. */
  #banned = new Set<string>();
  /** Pieces fetched again in finished tries. */
  #refetched = 0;

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
    const excluded = (name: string) => this.#banned.has(name);
    this.#lookup = new HolderLookup({ contentId, findHolders: deps.findHolders, selfName: deps.selfName, excluded, logger: this.#log, signal });
    this.#manifests = new MajorityManifestChoice({
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
      // A wrong manifest shows only as pieces nobody can satisfy or as a bad whole-file hash: then its
      // holders are distrusted and the download starts again from another holder's manifest, once per
      // distinct manifest at most.
      for (;;) {
        try {
          await this.#try();
          break;
        } catch (err) {
          if (!(await this.#retryWithAnotherManifest(err))) throw err;
        }
      }
      const partial = this.#partial!;
      await partial.finish();
      const stored = await this.#deps.store.adopt({ tempPath: partial.partPath, name: partial.name, manifest: this.#manifest });
      await PartialDownload.remove(this.#deps.store.partialDir, t.contentId);
      t.update({ name: stored.name });
      t.setBytesDone(this.#manifest.size);
      t.finish("completed");
      this.#log.info({ name: stored.name, refetched: this.#attempt?.refetched ?? this.#refetched }, "download completed");
    } catch (err) {
      await this.#end(err);
    } finally {
      this.#controller.abort();
      this.#detach();
    }
  }

  /** One try with one manifest: prepare, fetch every piece, check the whole-file hash. */
  async #try(): Promise<void> {
    const t = this.#transfer;
    const attempt = await this.#prepare();
    t.update({ state: "running" });
    await attempt.fetchAll();
    // Endgame twins still on the wire are no longer needed.
    attempt.stopFetching();
    t.update({ state: "verifying", sources: [] });
    const digest = await attempt.wholeFileDigest();
    if (digest !== t.contentId) throw wrongManifest();
  }

  /**
   * After a failed try: if the manifest used may have been the culprit (whole-file hash wrong, or every
   * holder banned for bad pieces) and another holder served a different one, distrusts the holders of the
   * used manifest, stops the try and returns true so the download starts again.
   */
  async #retryWithAnotherManifest(err: unknown): Promise<boolean> {
    if (this.#signal.aborted) return false;
    const wrongHash = isPeerError(err, "HASH_MISMATCH");
    const holders = this.#attempt?.holders() ?? [];
    const allBanned = err instanceof PeerError && err.code === "unavailable" && holders.some((h) => h.banned) && !holders.some((h) => h.usable);
    if (!wrongHash && !allBanned) return false;
    const servedBy = this.#manifests.rejectChosen();
    if (!servedBy) return false;
    this.#log.warn({ holders: servedBy, reason: (err as Error).message }, "the manifest used did not produce the file; distrusting its holders and trying another");
    this.#retried = true;
    // Stop everything of this try. Its partial state stays: the next try keeps the pieces whose hashes
    // the next manifest agrees with (#prepare, PartialDownload.rebase) and fetches only the others.
    const attempt = this.#attempt;
    await attempt?.stop();
    this.#refetched = attempt?.refetched ?? this.#refetched;
    this.#attempt = undefined;
    this.#signal.throwIfAborted();
    this.#banned = new Set(this.#manifests.distrusted);
    this.#saves.restart();
    this.#transfer.setBytesDone(0);
    this.#transfer.update({ sources: [], bannedPeers: [...this.#banned], piecesRefetched: this.#refetched });
    return true;
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
    if (!this.#partial && !this.#retried) {
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
    const chosen = await this.#manifests.choose(saved?.manifest);
    if (saved && !chosen.isSaved) {
      // The manifest we had proved wrong or nobody serves it any more: go on with what the holders
      // serve now, keeping the verified pieces it agrees with.
      const before = saved.verifiedBytes();
      this.#partial = undefined;
      try {
        this.#partial = await saved.rebase(chosen.manifest);
      } catch (err) {
        await saved.close();
        throw err;
      }
      const kept = this.#partial.verifiedBytes();
      this.#log.warn({ keptBytes: kept, droppedBytes: before - kept }, "changed to another manifest of this file; keeping the verified pieces it agrees with");
    }
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
      refetchedBefore: this.#refetched,
    };
    const attempt = new DownloadAttempt(context, manifest, this.#partial, chosen.holders);
    this.#attempt = attempt;
    t.setBytesDone(attempt.verifiedBytes);
    return attempt;
  }
}

/** The whole-file hash did not match the content id: the manifest used described another file. */
function wrongManifest(): PeerError {
  return new PeerError("HASH_MISMATCH", "The downloaded bytes do not match the content id: the holders described the file wrongly. Nothing was kept.");
}

/** A sentence for a person about why a download failed. */
function describeFailure(err: unknown): string {
  if (err instanceof PeerError) return err.message;
  if (isDiskFull(err)) return "The disk is full; the download was stopped and nothing unverified was kept.";
  return "The download failed because of an internal error; see the pserver log.";
}
