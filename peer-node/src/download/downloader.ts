// Multi-source, verified, resumable downloads into the shared folder.
//
// One download = one DownloadJob:
// 1. ask the directory for holders; get every holder's manifest, check each adds up, and use the
//    holders that agree with the majority (a lying manifest shows only at the final hash, so agreement
//    of two holders is the best early check there is);
// 2. pull pieces from all those holders at once with FetchPieces, a few pieces per request, each holder
//    with a window of pieces in flight that grows while it delivers and is capped by its measured rate,
//    so fast holders carry more of the file; near the end, idle holders duplicate slow holders' pieces;
// 3. receive each piece straight into a slot of the download's fixed ring (receive-pieces.ts), verify its
//    SHA-256 and write it at its offset in the partial file (a worker thread and the thread pool,
//    piece-worker.ts);
//    a bad piece is fetched again from another holder, and a holder with 3 bad pieces is banned for this
//    transfer; a holder that fails or sends no bytes for a while loses its pieces to the others; reading
//    pauses while every slot waits for the disk, so memory is the ring whatever the file size;
// 4. hash the whole file in order while pieces land (the worker re-reads from the page cache only the
//    pieces that arrived out of order), compare with the content id, and let the store move the file in.
import { setMaxListeners } from "node:events";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  DISK_FREE_RESERVE_BYTES,
  HOLDERS_PER_DOWNLOAD_MAX,
  PIECE_MESSAGE_SLACK_BYTES,
  PIECE_RING_MIN_SLOTS,
} from "../constants.js";
import {
  DiskFullError,
  InvalidRequestError,
  PeerError,
  StalledError,
  UnavailableError,
  VerificationError,
  isDiskFull,
} from "../errors.js";
import type { FileStore, Manifest } from "../store/file-store.js";
import { sanitizeFileName } from "../store/names.js";
import { isContentId } from "../store/pieces.js";
import type { Downloader, FindHolders } from "../transfer/api.js";
import { formatBytes } from "../transfer/format.js";
import { PartialDownload } from "./partial-download.js";
import type { PeerClients } from "../pieces/peer-clients.js";
import { PieceRing } from "../pieces/piece-ring.js";
import { HolderProtocolError, type ReceivedPiece } from "../pieces/receive-pieces.js";
import { sleep } from "../transfer/rate-limiter.js";
import { Transfer, type TransferRegistry } from "../transfer/transfer.js";
import { PieceIntake } from "./piece-intake.js";
import { callStalled, type Holder } from "./holder.js";
import { PieceScheduler } from "./scheduler.js";
import { HolderLookup } from "./holder-lookup.js";
import { MajorityManifestChoice, type ManifestChoice } from "./manifest-choice.js";
import { SaveCadence } from "./save-cadence.js";
import { downloaderSettings, type DownloaderOptions, type Settings } from "./settings.js";

export type { DownloaderOptions } from "./settings.js";

/** What the downloader needs. */
export interface PieceDownloaderDeps {
  readonly store: FileStore;
  readonly registry: TransferRegistry;
  readonly findHolders: FindHolders;
  readonly peers: PeerClients;
  readonly logger: Logger;
  /** This peer's name (never used as a holder); a function when it can change at login. */
  readonly selfName: string | (() => string);
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
      transfer.finish("failed", "That is not a content id (64 lower-case hex characters).");
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
    this.#shutdown.abort(new Error("The pserver is shutting down; the download resumes when it starts again."));
    await Promise.allSettled([...this.#jobs]);
  }

  #start(transfer: Transfer, partial: PartialDownload | undefined): void {
    const job = new DownloadJob(this.#deps, this.#settings, transfer, this.#shutdown.signal, partial);
    const p = job.run();
    this.#jobs.add(p);
    void p.finally(() => this.#jobs.delete(p));
  }
}

/** One FetchPieces call in flight. */
interface Fetch {
  readonly holder: Holder;
  readonly pieces: number[];
  readonly controller: AbortController;
  lastBytesAtMs: number;
  /** Waiting for a free ring slot (our own disk), not for the holder. */
  paused: boolean;
}

/** The whole life of one download. */
class DownloadJob {
  readonly #deps: PieceDownloaderDeps;
  readonly #s: Settings;
  readonly #transfer: Transfer;
  readonly #log: Logger;
  /** Aborts on cancel, shutdown, or the end of the job. */
  readonly #controller = new AbortController();
  readonly #shutdown: AbortSignal;
  #partial: PartialDownload | undefined;
  #manifest!: Manifest;
  readonly #lookup: HolderLookup;
  readonly #manifests: ManifestChoice;
  /** A manifest proved wrong and this is a later try. */
  #retried = false;

  /** The piece schedule of the current try (and its holders); made once the manifest is known. */
  #scheduler: PieceScheduler | undefined;
  /** Holders banned for bad pieces in this try, and those distrusted since an earlier one. */
  #banned = new Set<string>();
  readonly #fetches = new Set<Fetch>();
  #refetched = 0;
  readonly #saves = new SaveCadence(Date.now());
  /** Checks and writes the current try's pieces (its piece worker). */
  #intake: PieceIntake | undefined;
  /** Where pieces are received; its slots are the only piece memory of the download. */
  #ring: PieceRing | undefined;
  #wake: (() => void) | undefined;
  #lastRefreshMs = 0;
  #refreshing: Promise<void> | undefined;
  #finishing = false;

  constructor(deps: PieceDownloaderDeps, settings: Settings, transfer: Transfer, shutdown: AbortSignal, partial: PartialDownload | undefined) {
    this.#deps = deps;
    this.#s = settings;
    this.#transfer = transfer;
    this.#shutdown = shutdown;
    this.#partial = partial;
    this.#log = deps.logger.child({ transfer: transfer.id, contentId: transfer.contentId });
    // Every fetch in flight listens to the job's signal; dozens at once are normal, not a leak.
    setMaxListeners(1_000, this.#controller.signal);
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
    const signal = this.#controller.signal;
    this.#lookup = new HolderLookup({
      contentId: transfer.contentId,
      findHolders: deps.findHolders,
      selfName: deps.selfName,
      excluded: (name) => this.#banned.has(name),
      logger: this.#log,
      signal,
    });
    this.#manifests = new MajorityManifestChoice({
      contentId: transfer.contentId,
      lookup: this.#lookup,
      peers: deps.peers,
      logger: this.#log,
      signal,
      manifestTimeoutMs: settings.manifestTimeoutMs,
      noHolderGraceMs: settings.noHolderGraceMs,
    });
  }

  readonly #detach: () => void;

  get #signal(): AbortSignal {
    return this.#controller.signal;
  }

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
          await this.#attempt();
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
      this.#log.info({ name: stored.name, refetched: this.#refetched }, "download completed");
    } catch (err) {
      await this.#end(err);
    } finally {
      this.#controller.abort();
      this.#detach();
    }
  }

  /** One try with one manifest: prepare, fetch every piece, check the whole-file hash. */
  async #attempt(): Promise<void> {
    const t = this.#transfer;
    await this.#prepare();
    t.update({ state: "running" });
    await this.#fetchAll();
    // Endgame twins still on the wire are no longer needed.
    this.#finishing = true;
    for (const f of this.#fetches) f.controller.abort();
    t.update({ state: "verifying", sources: [] });
    const digest = await this.#intake!.wholeFileDigest();
    if (digest !== t.contentId) throw new WrongManifestError();
  }

  /**
   * After a failed try: if the manifest used may have been the culprit (whole-file hash wrong, or every
   * holder banned for bad pieces) and another holder served a different one, distrusts the holders of the
   * used manifest, discards its partial state and returns true so the download starts again.
   */
  async #retryWithAnotherManifest(err: unknown): Promise<boolean> {
    if (this.#signal.aborted) return false;
    const wrongHash = err instanceof WrongManifestError;
    const holders = [...(this.#scheduler?.holders() ?? [])];
    const allBanned = err instanceof UnavailableError && holders.some((h) => h.banned) && !holders.some((h) => h.usable);
    if (!wrongHash && !allBanned) return false;
    const servedBy = this.#manifests.rejectChosen();
    if (!servedBy) return false;
    this.#log.warn({ holders: servedBy, reason: (err as Error).message }, "the manifest used did not produce the file; distrusting its holders and trying another");
    this.#retried = true;
    // Stop everything of this try. Its partial state stays: the next try keeps the pieces whose hashes
    // the next manifest agrees with (#prepare, PartialDownload.rebase) and fetches only the others.
    for (const f of this.#fetches) f.controller.abort();
    this.#intake?.destroy();
    await this.#settle();
    this.#intake = undefined;
    this.#ring = undefined;
    this.#signal.throwIfAborted();
    this.#scheduler = undefined;
    this.#fetches.clear();
    this.#banned = new Set(this.#manifests.distrusted);
    this.#saves.restart();
    this.#finishing = false;
    this.#transfer.setBytesDone(0);
    this.#publish();
    return true;
  }

  /** Ends a failed, cancelled or interrupted download, keeping or discarding its partial state. */
  async #end(err: unknown): Promise<void> {
    const t = this.#transfer;
    this.#controller.abort();
    this.#intake?.destroy();
    await this.#settle();
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
    const keep = err instanceof UnavailableError && partial !== undefined && partial.verifiedBytes() > 0;
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

  /** Waits until every fetch and write has stopped. */
  async #settle(): Promise<void> {
    for (const f of this.#fetches) f.controller.abort();
    this.#ring?.close(new Error("the download stopped"));
    for (let i = 0; i < 100 && (this.#fetches.size > 0 || (this.#intake?.pending ?? 0) > 0); i++) {
      await Promise.race([this.#intake?.settled(), sleep(20)]);
    }
    await this.#refreshing?.catch(() => undefined);
  }

  // ---- preparing: holders, manifest, disk ----

  async #prepare(): Promise<void> {
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
    this.#manifest = chosen.manifest;
    const name = this.#partial?.name ?? sanitizeFileName(chosen.manifest.name, `download-${t.contentId.slice(0, 12)}`);
    t.update({ name, bytesTotal: chosen.manifest.size });

    const alreadyVerified = this.#partial?.verifiedBytes() ?? 0;
    const needed = chosen.manifest.size - alreadyVerified + DISK_FREE_RESERVE_BYTES;
    const free = await store.freeBytes();
    if (free < needed) {
      throw new DiskFullError(
        `Not enough disk space: the file needs ${formatBytes(chosen.manifest.size - alreadyVerified)} more and only ${formatBytes(Math.max(0, free - DISK_FREE_RESERVE_BYTES))} can be used.`,
      );
    }
    try {
      this.#partial ??= await PartialDownload.create(store.partialDir, chosen.manifest, name);
    } catch (err) {
      if (isDiskFull(err)) throw new DiskFullError("The disk is full; the download could not start.", { cause: err });
      throw err;
    }
    const partial = this.#partial;
    const scheduler = new PieceScheduler(chosen.manifest, partial.count, (i) => partial.has(i), this.#s);
    for (const ref of chosen.holders) scheduler.addHolder(ref);
    this.#scheduler = scheduler;
    t.setBytesDone(scheduler.verifiedBytes);
    // The ring holds as many pieces as may wait to be written, plus one. A slot also holds the message's
    // framing around the piece (a few bytes; a foreign holder may add unknown fields).
    const pieceSize = chosen.manifest.pieceSize;
    const slots = Math.max(PIECE_RING_MIN_SLOTS, Math.ceil(this.#s.unwrittenMaxBytes / pieceSize) + 1);
    this.#ring = new PieceRing(slots, pieceSize + PIECE_MESSAGE_SLACK_BYTES);
    this.#intake = new PieceIntake({
      manifest: chosen.manifest,
      partial,
      scheduler,
      transfer: t,
      saves: this.#saves,
      log: this.#log,
      controller: this.#controller,
      onBadPiece: (h, i) => this.#badPiece(scheduler, h, i, `sent a piece ${i} that failed verification`),
      onChecked: () => this.#poke(),
    });
  }

  // ---- fetching ----

  async #fetchAll(): Promise<void> {
    const scheduler = this.#scheduler!;
    const intake = this.#intake!;
    const tick = setInterval(() => this.#onTick(), Math.max(50, Math.min(1_000, this.#s.stallTimeoutMs / 4)));
    tick.unref();
    this.#lastRefreshMs = Date.now();
    let noHolderSinceMs: number | undefined;
    try {
      while (!scheduler.complete) {
        if (intake.fatal !== undefined) throw intake.fatal;
        this.#signal.throwIfAborted();
        this.#pump();
        if (scheduler.usableCount() === 0 && this.#fetches.size === 0) {
          noHolderSinceMs ??= Date.now();
          if (Date.now() - noHolderSinceMs >= this.#s.noHolderGraceMs) throw this.#noHolderLeft();
          this.#refresh(true);
        } else {
          noHolderSinceMs = undefined;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 250);
        });
        this.#wake = undefined;
      }
      if (intake.fatal !== undefined) throw intake.fatal;
      await intake.written();
      await this.#partial!.save();
    } finally {
      clearInterval(tick);
    }
  }

  #noHolderLeft(): UnavailableError {
    const banned = [...this.#banned];
    const tried = [...(this.#scheduler?.holders() ?? [])].length;
    return new UnavailableError(
      `No peer holding this file is reachable any more (${tried} tried` +
        (banned.length > 0 ? `; ${banned.join(", ")} banned for sending corrupt pieces` : "") +
        ").",
    );
  }

  #poke(): void {
    this.#wake?.();
  }

  /** Periodic work: stalled fetches, holder refresh, progress fields. */
  #onTick(): void {
    const now = Date.now();
    for (const f of this.#fetches) {
      if (callStalled(f, now, this.#s.stallTimeoutMs)) {
        f.controller.abort(new StalledError(`${f.holder.ref.name} sent nothing for ${Math.round(this.#s.stallTimeoutMs / 1000)} s.`));
      }
    }
    if (now - this.#lastRefreshMs >= this.#s.holderRefreshMs) this.#refresh(false);
    this.#publish();
    this.#pump();
  }

  #publish(): void {
    const sources = [...(this.#scheduler?.holders() ?? [])].filter((h) => h.usable && h.inflight > 0).map((h) => h.ref.name);
    this.#transfer.update({ sources, bannedPeers: [...this.#banned], piecesRefetched: this.#refetched });
  }

  /** Asks the directory for holders again and adds those that serve the same manifest. */
  #refresh(urgent: boolean): void {
    if (this.#refreshing) return;
    if (urgent && Date.now() - this.#lastRefreshMs < Math.min(1_000, this.#s.holderRefreshMs)) return;
    this.#lastRefreshMs = Date.now();
    const scheduler = this.#scheduler!;
    this.#refreshing = (async () => {
      const usable = scheduler.usableCount();
      const refs = (await this.#lookup.find()).filter((r) => {
        const h = scheduler.holder(r.name);
        return !h || h.dropped;
      });
      for (const ref of refs.slice(0, Math.max(0, HOLDERS_PER_DOWNLOAD_MAX - usable))) {
        if (await this.#manifests.serves(ref)) {
          scheduler.addHolder(ref);
          this.#log.debug({ holder: ref.name }, "holder added");
        }
      }
    })()
      .catch((err) => {
        if (!this.#signal.aborted) this.#log.debug({ err }, "holder refresh failed");
      })
      .finally(() => {
        this.#refreshing = undefined;
        this.#poke();
      });
  }

  /** Starts the calls the scheduler plans: streams are bounded by the ring (see maxCalls). */
  #pump(): void {
    if (this.#signal.aborted || this.#intake?.fatal !== undefined || !this.#scheduler) return;
    // Each stream may hold one ring slot while its message arrives; with fewer streams than slots, some
    // slot is always free or with the worker (which needs no network to release it), so streams waiting
    // for a slot never starve the one that holds the last (their unread bytes fill the HTTP/2 window).
    const maxCalls = (this.#ring?.slotCount ?? 2) - 1;
    for (const call of this.#scheduler.plan(Date.now(), maxCalls)) this.#startFetch(this.#scheduler, call.holder, call.pieces);
  }

  #startFetch(scheduler: PieceScheduler, h: Holder, pieces: number[]): void {
    const f: Fetch = { holder: h, pieces, controller: new AbortController(), lastBytesAtMs: Date.now(), paused: false };
    this.#fetches.add(f);
    const onJobAbort = () => f.controller.abort(this.#signal.reason);
    this.#signal.addEventListener("abort", onJobAbort, { once: true });
    void this.#runFetch(scheduler, f).finally(() => {
      this.#signal.removeEventListener("abort", onJobAbort);
      this.#fetches.delete(f);
      scheduler.callEnded(h);
      this.#poke();
    });
  }

  async #runFetch(scheduler: PieceScheduler, f: Fetch): Promise<void> {
    const h = f.holder;
    const intake = this.#intake!;
    const pending = new Set(f.pieces);
    let broken = false;
    const onPiece = (piece: ReceivedPiece): boolean => {
      f.lastBytesAtMs = Date.now();
      const i = piece.pieceIndex;
      if (!pending.has(i)) {
        // Not asked for, or sent twice: a holder that breaks the protocol is treated like a corrupt one.
        piece.slot.release();
        this.#badPiece(scheduler, h, undefined, `sent piece ${i}, which was not asked for`);
        broken = true;
        return false;
      }
      pending.delete(i);
      // Another holder's copy is already being checked or kept (endgame): this one is not needed.
      if (!scheduler.received(h, i)) {
        piece.slot.release();
        return true;
      }
      intake.take(h, piece);
      broken = h.banned;
      return !broken;
    };
    try {
      await this.#deps.peers.fetchPieces(
        h.ref.address,
        { contentId: this.#transfer.contentId, pieceIndexes: f.pieces },
        {
          ring: this.#ring!,
          signal: f.controller.signal,
          onPiece,
          onBytes: () => (f.lastBytesAtMs = Date.now()),
          onWaiting: (waiting) => {
            f.paused = waiting;
            f.lastBytesAtMs = Date.now();
          },
        },
      );
      if (!broken && pending.size > 0) {
        throw new InvalidRequestError(`${h.ref.name} ended the stream before sending every piece asked for.`);
      }
    } catch (err) {
      if (err instanceof HolderProtocolError && !this.#signal.aborted) {
        this.#badPiece(scheduler, h, undefined, err.message);
        this.#refetched += pending.size;
      } else {
        this.#fetchFailed(f, err, pending.size);
      }
    } finally {
      for (const i of pending) scheduler.release(h, i);
      this.#pump();
    }
  }

  #badPiece(scheduler: PieceScheduler, h: Holder, i: number | undefined, what: string): void {
    const bannedNow = scheduler.badPiece(h, i);
    this.#refetched++;
    this.#log.warn({ holder: h.ref.name, bad: h.bad }, what);
    if (bannedNow) {
      this.#banned.add(h.ref.name);
      this.#log.warn({ holder: h.ref.name }, "holder banned for this transfer");
      for (const f of this.#fetches) if (f.holder === h) f.controller.abort(new Error("holder banned"));
    }
    this.#publish();
  }

  /** A fetch failed: its pieces go back; the holder backs off, and is dropped after repeated failures. */
  #fetchFailed(f: Fetch, err: unknown, undelivered: number): void {
    const h = f.holder;
    if (this.#signal.aborted || this.#finishing || h.banned) return;
    const reason = f.controller.signal.aborted ? f.controller.signal.reason : err;
    const code = reason instanceof ConnectError ? reason.code : err instanceof ConnectError ? err.code : undefined;
    if (code === Code.ResourceExhausted) {
      // The holder is busy (per-peer stream limit): not its fault, nothing to count as refetched.
      h.busy(Date.now(), this.#s.retryMinMs);
      return;
    }
    this.#refetched += undelivered;
    if (code === Code.NotFound || code === Code.InvalidArgument) {
      // It no longer holds this content (or serves another layout): no use retrying.
      h.gone();
      this.#log.info({ holder: h.ref.name, err: (reason as Error)?.message }, "holder dropped");
      return;
    }
    const droppedNow = h.failed(Date.now(), this.#s.retryMinMs);
    this.#log.info({ holder: h.ref.name, failures: h.failures, err: (reason as Error)?.message }, "fetch failed");
    if (droppedNow) {
      this.#deps.peers.drop(h.ref.address);
      this.#refresh(true);
    }
    this.#publish();
  }
}

/** The whole-file hash did not match the content id: the manifest used described another file. */
class WrongManifestError extends VerificationError {
  constructor() {
    super("The downloaded bytes do not match the content id: the holders described the file wrongly. Nothing was kept.");
  }
}

/** A sentence for a person about why a download failed. */
function describeFailure(err: unknown): string {
  if (err instanceof PeerError) return err.message;
  if (isDiskFull(err)) return "The disk is full; the download was stopped and nothing unverified was kept.";
  return "The download failed because of an internal error; see the pserver log.";
}
