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
  DOWNLOAD_STATE_SAVE_INTERVAL_MS,
  DOWNLOAD_STATE_SAVE_PIECES,
  FETCH_BATCH_MAX_PIECES,
  HOLDER_BAD_PIECES_BAN,
  HOLDER_FAILURES_DROP,
  HOLDER_REFRESH_INTERVAL_MS,
  HOLDER_RETRY_MIN_MS,
  HOLDER_STALL_TIMEOUT_MS,
  HOLDER_WINDOW_INITIAL_PIECES,
  HOLDER_WINDOW_MAX_PIECES,
  HOLDERS_PER_DOWNLOAD_MAX,
  MANIFEST_TIMEOUT_MS,
  NO_HOLDER_GRACE_MS,
  PIECE_MESSAGE_SLACK_BYTES,
  PIECE_RING_MIN_SLOTS,
  PIECES_UNWRITTEN_MAX_BYTES,
} from "../constants.js";
import { PeerError, isDiskFull, isPeerError } from "../errors.js";
import type { FileStore, Manifest } from "../store/file-store.js";
import { sanitizeFileName } from "../store/names.js";
import { checkManifest, isContentId, manifestFingerprint, pieceLength } from "../store/pieces.js";
import type { Downloader, FindHolders, PeerRef } from "../transfer/api.js";
import { formatBytes } from "../transfer/format.js";
import { PartialDownload } from "./partial-download.js";
import type { PeerClients } from "../pieces/peer-clients.js";
import { PieceRing } from "../pieces/piece-ring.js";
import type { ReceivedPiece } from "../pieces/receive-pieces.js";
import { sleep } from "../transfer/rate-limiter.js";
import { Transfer, type TransferRegistry } from "../transfer/transfer.js";
import { PieceWorker } from "./piece-worker.js";
import { manifestFromProto } from "../pieces/manifest-wire.js";

/** Tunables of the downloader (tests shorten the timeouts); every field has a default in constants.ts. */
export interface DownloaderOptions {
  readonly stallTimeoutMs?: number;
  readonly holderRefreshMs?: number;
  readonly noHolderGraceMs?: number;
  readonly manifestTimeoutMs?: number;
  readonly batchPieces?: number;
  readonly windowInitialPieces?: number;
  readonly windowMaxPieces?: number;
  readonly retryMinMs?: number;
  /** Received bytes allowed to wait for their hash check and write before reading pauses (the ring's size). */
  readonly unwrittenMaxBytes?: number;
}

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

type Settings = Required<DownloaderOptions>;

/** The downloader of a pserver: one job per content id, resumable across restarts. */
export class PieceDownloader implements Downloader {
  readonly #deps: PieceDownloaderDeps;
  readonly #settings: Settings;
  readonly #shutdown = new AbortController();
  readonly #jobs = new Set<Promise<void>>();

  constructor(deps: PieceDownloaderDeps) {
    this.#deps = deps;
    const o = deps.options ?? {};
    this.#settings = {
      stallTimeoutMs: o.stallTimeoutMs ?? HOLDER_STALL_TIMEOUT_MS,
      holderRefreshMs: o.holderRefreshMs ?? HOLDER_REFRESH_INTERVAL_MS,
      noHolderGraceMs: o.noHolderGraceMs ?? NO_HOLDER_GRACE_MS,
      manifestTimeoutMs: o.manifestTimeoutMs ?? MANIFEST_TIMEOUT_MS,
      batchPieces: o.batchPieces ?? FETCH_BATCH_MAX_PIECES,
      windowInitialPieces: o.windowInitialPieces ?? HOLDER_WINDOW_INITIAL_PIECES,
      windowMaxPieces: o.windowMaxPieces ?? HOLDER_WINDOW_MAX_PIECES,
      retryMinMs: o.retryMinMs ?? HOLDER_RETRY_MIN_MS,
      unwrittenMaxBytes: o.unwrittenMaxBytes ?? PIECES_UNWRITTEN_MAX_BYTES,
    };
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

/** One holder as seen by one download. */
class Holder {
  readonly ref: PeerRef;
  window: number;
  /**
   * Until the holder first fails, its window grows by a piece per piece delivered (doubling per window, as
   * TCP's slow start), then by ~2 pieces per window. Additive growth alone took ~2,000 pieces to open a
   * window of 96 (a 16-piece batch on each of 6 streams): a 1 GiB download from one holder ran with 2-3
   * streams most of the way. The window stays capped by the holder's measured rate (#windowOf).
   */
  slowStart = true;
  inflight = 0;
  /** FetchPieces calls open to this holder. */
  fetches = 0;
  bad = 0;
  failures = 0;
  banned = false;
  dropped = false;
  retryAtMs = 0;
  /** Pieces this holder has been asked for and not yet delivered. */
  readonly owned = new Set<number>();
  /** (time, bytes delivered so far) samples for the holder's recent rate. */
  readonly #samples: Array<[number, number]> = [];
  delivered = 0;

  constructor(ref: PeerRef, window: number) {
    this.ref = ref;
    this.window = window;
  }

  /** A piece came in verified: the window grows (see slowStart), up to `max`. */
  grow(max: number): void {
    this.window = Math.min(max, this.window + (this.slowStart ? 1 : 1 / Math.max(1, Math.floor(this.window) / 2)));
  }

  /** A call failed or was refused as busy: the window halves and grows slowly from then on. */
  backOff(): void {
    this.window = Math.max(1, this.window / 2);
    this.slowStart = false;
  }

  get usable(): boolean {
    return !this.banned && !this.dropped;
  }

  /** Records delivered bytes for the rate estimate. */
  record(bytes: number): void {
    const now = Date.now();
    this.delivered += bytes;
    this.#samples.push([now, this.delivered]);
    while (this.#samples.length > 2 && now - this.#samples[0]![0] > 3_000) this.#samples.shift();
  }

  /** Recent delivery rate in bytes per second, or undefined before a second of data. */
  rate(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last[0] - first[0] < 1_000) return undefined;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
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

/** In the endgame, a piece in flight for longer than this may be asked of a second holder. */
const ENDGAME_LATE_MS = 1_000;

const MISSING = 0;
const IN_FLIGHT = 1;
/** Received; its hash is being checked (and then it is written). */
const CHECKING = 2;
const VERIFIED = 3;

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
  #fingerprint = "";

  readonly #holders = new Map<string, Holder>();
  #banned = new Set<string>();
  /** Manifests (by fingerprint) that did not produce the file, and the holders that served them. */
  readonly #rejected = new Set<string>();
  readonly #distrusted = new Set<string>();
  readonly #fetches = new Set<Fetch>();
  #state!: Uint8Array;
  /** Requests outstanding per piece (2 in the endgame). */
  #owners!: Uint8Array;
  /** When each in-flight piece was first asked for (endgame picks late ones). */
  #requestedAt!: Float64Array;
  /** Pieces given back by failed or bad fetches, served before the cursor moves on. */
  #returned: number[] = [];
  /** Every piece below the cursor has been handed out once. */
  #cursor = 0;
  #verifiedCount = 0;
  #verifiedBytes = 0;
  #refetched = 0;
  #unsaved = 0;
  #lastSaveMs = Date.now();
  #worker: PieceWorker | undefined;
  /** Where pieces are received; its slots are the only piece memory of the download. */
  #ring: PieceRing | undefined;
  #fatal: unknown;
  #wake: (() => void) | undefined;
  #lastRefreshMs = 0;
  #refreshing: Promise<void> | undefined;
  #lastFindError: unknown;
  #writes = new Set<Promise<void>>();
  /** Holders that sent a bad copy of a piece, by piece: they are asked for it last. */
  #badFrom = new Map<number, Set<string>>();
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
    const digest = await this.#worker!.finish();
    this.#worker = undefined;
    if (digest !== t.contentId) throw wrongManifest();
  }

  /**
   * After a failed try: if the manifest used may have been the culprit (whole-file hash wrong, or every
   * holder banned for bad pieces) and another holder served a different one, distrusts the holders of the
   * used manifest, discards its partial state and returns true so the download starts again.
   */
  async #retryWithAnotherManifest(err: unknown): Promise<boolean> {
    if (this.#signal.aborted || this.#fingerprint === "") return false;
    const wrongHash = isPeerError(err, "HASH_MISMATCH");
    const holders = [...this.#holders.values()];
    const allBanned = err instanceof PeerError && err.code === "unavailable" && holders.some((h) => h.banned) && !holders.some((h) => h.usable);
    if (!wrongHash && !allBanned) return false;
    if (this.#otherFingerprints.size === 0) return false;
    const used = this.#fingerprint;
    const servedBy = this.#usedBy;
    this.#log.warn({ holders: servedBy, reason: (err as Error).message }, "the manifest used did not produce the file; distrusting its holders and trying another");
    this.#rejected.add(used);
    for (const name of servedBy) this.#distrusted.add(name);
    this.#otherFingerprints.delete(used);
    // Stop everything of this try. Its partial state stays: the next try keeps the pieces whose hashes
    // the next manifest agrees with (#prepare, PartialDownload.rebase) and fetches only the others.
    for (const f of this.#fetches) f.controller.abort();
    this.#worker?.destroy();
    this.#worker = undefined;
    await this.#settle();
    this.#ring = undefined;
    this.#signal.throwIfAborted();
    this.#holders.clear();
    this.#fetches.clear();
    this.#banned = new Set(this.#distrusted);
    this.#badFrom = new Map();
    this.#returned = [];
    this.#cursor = 0;
    this.#verifiedCount = 0;
    this.#verifiedBytes = 0;
    this.#unsaved = 0;
    this.#fatal = undefined;
    this.#finishing = false;
    this.#fingerprint = "";
    this.#transfer.setBytesDone(0);
    this.#publish();
    return true;
  }

  /** Holders whose manifest the current try uses. */
  #usedBy: string[] = [];
  /** Fingerprints of manifests other holders served that have not been tried (bounds the retries). */
  readonly #otherFingerprints = new Set<string>();

  /** Ends a failed, cancelled or interrupted download, keeping or discarding its partial state. */
  async #end(err: unknown): Promise<void> {
    const t = this.#transfer;
    this.#controller.abort();
    this.#worker?.destroy();
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

  /** Waits until every fetch and write has stopped. */
  async #settle(): Promise<void> {
    for (const f of this.#fetches) f.controller.abort();
    this.#ring?.close(new Error("the download stopped"));
    for (let i = 0; i < 100 && (this.#fetches.size > 0 || this.#writes.size > 0); i++) {
      await Promise.race([Promise.allSettled([...this.#writes]), sleep(20)]);
    }
    await this.#refreshing?.catch(() => undefined);
  }

  // ---- preparing: holders, manifest, disk ----

  async #prepare(): Promise<void> {
    const t = this.#transfer;
    const store = this.#deps.store;
    // Started by Download (not by resumeUnfinished): pick up a previous run's verified pieces.
    if (!this.#partial && this.#rejected.size === 0) {
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
    const probes = await this.#probeUntilAny(saved ? manifestFingerprint(saved.manifest) : undefined);
    for (const fp of this.#rejected) probes.delete(fp);
    if (probes.size === 0) throw new PeerError("NO_HOLDERS", "No holder serves a manifest that has not already proved wrong.");
    let chosen = saved ? probes.get(manifestFingerprint(saved.manifest)) : undefined;
    if (!chosen) {
      chosen = [...probes.values()].sort((a, b) => b.refs.length - a.refs.length)[0]!;
      if (saved) {
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
    }
    if (probes.size > 1) {
      this.#log.warn({ groups: [...probes.values()].map((g) => g.refs.map((r) => r.name)) }, "holders disagree about the manifest; using the majority");
    }
    this.#manifest = chosen.manifest;
    this.#fingerprint = manifestFingerprint(chosen.manifest);
    this.#usedBy = chosen.refs.map((r) => r.name);
    for (const fp of probes.keys()) if (fp !== this.#fingerprint) this.#otherFingerprints.add(fp);
    for (const ref of chosen.refs) this.#addHolder(ref);
    const name = this.#partial?.name ?? sanitizeFileName(chosen.manifest.name, `download-${t.contentId.slice(0, 12)}`);
    t.update({ name, bytesTotal: chosen.manifest.size });

    const alreadyVerified = this.#partial?.verifiedBytes() ?? 0;
    const needed = chosen.manifest.size - alreadyVerified + DISK_FREE_RESERVE_BYTES;
    const free = await store.freeBytes();
    if (free < needed) {
      throw new PeerError(
        "DISK_FULL",
        `Not enough disk space: the file needs ${formatBytes(chosen.manifest.size - alreadyVerified)} more and only ${formatBytes(Math.max(0, free - DISK_FREE_RESERVE_BYTES))} can be used.`,
      );
    }
    try {
      this.#partial ??= await PartialDownload.create(store.partialDir, chosen.manifest, name);
    } catch (err) {
      if (isDiskFull(err)) throw new PeerError("DISK_FULL", "The disk is full; the download could not start.", { cause: err });
      throw err;
    }
    const partial = this.#partial;
    const count = partial.count;
    this.#state = new Uint8Array(count);
    this.#owners = new Uint8Array(count);
    this.#requestedAt = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      if (partial.has(i)) {
        this.#state[i] = VERIFIED;
        this.#verifiedCount++;
        this.#verifiedBytes += pieceLength(chosen.manifest.size, chosen.manifest.pieceSize, i);
      }
    }
    t.setBytesDone(this.#verifiedBytes);
    // The ring holds as many pieces as may wait to be written, plus one. A slot also holds the message's
    // framing around the piece (a few bytes; a foreign holder may add unknown fields).
    const pieceSize = chosen.manifest.pieceSize;
    const slots = Math.max(PIECE_RING_MIN_SLOTS, Math.ceil(this.#s.unwrittenMaxBytes / pieceSize) + 1);
    this.#ring = new PieceRing(slots, pieceSize + PIECE_MESSAGE_SLACK_BYTES);
    // "Written", not "verified": a piece is marked verified before its write lands, and the hasher may
    // read it back from disk (a bench run hashed zeros that way before this was the partial's bit).
    this.#worker = new PieceWorker(partial.partPath, chosen.manifest, partial.verified);
  }

  /**
   * Finds holders and their manifests, waiting up to noHolderGraceMs for a first usable one.
   * Returns manifests grouped by fingerprint with the holders that serve each.
   */
  async #probeUntilAny(prefer: string | undefined): Promise<Map<string, { manifest: Manifest; refs: PeerRef[] }>> {
    const deadline = Date.now() + this.#s.noHolderGraceMs;
    const tried = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      this.#signal.throwIfAborted();
      const refs = (await this.#find()).slice(0, HOLDERS_PER_DOWNLOAD_MAX);
      for (const r of refs) tried.add(r.name);
      const groups = new Map<string, { manifest: Manifest; refs: PeerRef[] }>();
      const results = await Promise.all(refs.map((ref) => this.#probe(ref)));
      for (const r of results) {
        if (!r) continue;
        const fp = manifestFingerprint(r.manifest);
        const g = groups.get(fp) ?? { manifest: r.manifest, refs: [] };
        g.refs.push(r.ref);
        groups.set(fp, g);
      }
      if (groups.size > 0 && (prefer === undefined || groups.has(prefer) || Date.now() >= deadline)) return groups;
      if (Date.now() >= deadline) {
        if (this.#lastFindError !== undefined && tried.size === 0) {
          throw new PeerError("DIRECTORY_UNREACHABLE", "The directory could not be reached to find who holds this file.", { cause: this.#lastFindError });
        }
        throw new PeerError(
          "NO_HOLDERS",
          tried.size === 0
            ? "No live peer holds this file right now."
            : `None of the peers that hold this file (${[...tried].join(", ")}) answered with a usable manifest.`,
        );
      }
      await sleep(Math.min(250 * 2 ** attempt, 2_000, Math.max(0, deadline - Date.now())), this.#signal);
    }
  }

  /** Holders from the directory, minus this peer and banned ones, one per name. */
  async #find(): Promise<PeerRef[]> {
    const self = typeof this.#deps.selfName === "function" ? this.#deps.selfName() : this.#deps.selfName;
    let refs: PeerRef[];
    try {
      refs = await this.#deps.findHolders(this.#transfer.contentId, this.#signal);
      this.#lastFindError = undefined;
    } catch (err) {
      this.#signal.throwIfAborted();
      this.#lastFindError = err;
      this.#log.info({ err: (err as Error).message }, "could not ask the directory for holders");
      return [];
    }
    const seen = new Set<string>();
    return refs.filter((r) => {
      if (r.name === self || this.#banned.has(r.name) || seen.has(r.name)) return false;
      seen.add(r.name);
      return true;
    });
  }

  /** A holder's manifest if it answers in time with one that adds up. */
  async #probe(ref: PeerRef): Promise<{ ref: PeerRef; manifest: Manifest } | undefined> {
    try {
      const client = this.#deps.peers.client(ref.address);
      const res = await client.getManifest({ contentId: this.#transfer.contentId }, { signal: this.#signal, timeoutMs: this.#s.manifestTimeoutMs });
      return { ref, manifest: checkManifest(manifestFromProto(res.manifest), this.#transfer.contentId) };
    } catch (err) {
      this.#signal.throwIfAborted();
      this.#log.debug({ holder: ref.name, err: (err as Error).message }, "no usable manifest from holder");
      return undefined;
    }
  }

  #addHolder(ref: PeerRef): void {
    const existing = this.#holders.get(ref.name);
    if (existing && !existing.banned) {
      if (existing.dropped || existing.ref.address !== ref.address) {
        // Back after a drop (or moved): a fresh start.
        this.#holders.set(ref.name, new Holder(ref, this.#s.windowInitialPieces));
      }
      return;
    }
    if (!existing) this.#holders.set(ref.name, new Holder(ref, this.#s.windowInitialPieces));
  }

  // ---- fetching ----

  async #fetchAll(): Promise<void> {
    const count = this.#state.length;
    const tick = setInterval(() => this.#onTick(), Math.max(50, Math.min(1_000, this.#s.stallTimeoutMs / 4)));
    tick.unref();
    this.#lastRefreshMs = Date.now();
    let noHolderSinceMs: number | undefined;
    try {
      while (this.#verifiedCount < count) {
        if (this.#fatal !== undefined) throw this.#fatal;
        this.#signal.throwIfAborted();
        this.#pump();
        const usable = [...this.#holders.values()].filter((h) => h.usable);
        if (usable.length === 0 && this.#fetches.size === 0) {
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
      if (this.#fatal !== undefined) throw this.#fatal;
      await Promise.all([...this.#writes]);
      await this.#partial!.save();
    } finally {
      clearInterval(tick);
    }
  }

  #noHolderLeft(): PeerError {
    const banned = [...this.#banned];
    const tried = this.#holders.size;
    return new PeerError(
      "NO_HOLDERS",
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
      if (!f.paused && now - f.lastBytesAtMs > this.#s.stallTimeoutMs) {
        f.controller.abort(new PeerError("STALLED", `${f.holder.ref.name} sent nothing for ${Math.round(this.#s.stallTimeoutMs / 1000)} s.`));
      }
    }
    if (now - this.#lastRefreshMs >= this.#s.holderRefreshMs) this.#refresh(false);
    this.#publish();
    this.#pump();
  }

  #publish(): void {
    const sources = [...this.#holders.values()].filter((h) => h.usable && h.inflight > 0).map((h) => h.ref.name);
    this.#transfer.update({ sources, bannedPeers: [...this.#banned], piecesRefetched: this.#refetched });
  }

  /** Asks the directory for holders again and adds those that serve the same manifest. */
  #refresh(urgent: boolean): void {
    if (this.#refreshing) return;
    if (urgent && Date.now() - this.#lastRefreshMs < Math.min(1_000, this.#s.holderRefreshMs)) return;
    this.#lastRefreshMs = Date.now();
    this.#refreshing = (async () => {
      const usable = [...this.#holders.values()].filter((h) => h.usable).length;
      const refs = (await this.#find()).filter((r) => {
        const h = this.#holders.get(r.name);
        return !h || h.dropped;
      });
      for (const ref of refs.slice(0, Math.max(0, HOLDERS_PER_DOWNLOAD_MAX - usable))) {
        const probe = await this.#probe(ref);
        if (probe && manifestFingerprint(probe.manifest) === this.#fingerprint) {
          this.#addHolder(ref);
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

  /**
   * Hands pieces to every holder with room in its window, one request per holder per round. The
   * download's streams are bounded (by its ring), so first each holder gets up to an equal share of them,
   * then holders with room get what is left: handing freed streams to the fastest holder first let it
   * collect them all while the others, starved of requests, looked ever slower (3 seeders capped at R
   * gave 1.1 R). A holder's window (grown by delivery, capped by its rate) decides how much it carries.
   */
  #pump(): void {
    if (this.#signal.aborted || this.#fatal !== undefined) return;
    const now = Date.now();
    const usable = [...this.#holders.values()].filter((h) => h.usable && now >= h.retryAtMs);
    if (usable.length === 0) return;
    // Fastest first within a round, so when pieces run short they go to the holders that deliver.
    usable.sort((a, b) => (b.rate() ?? 0) - (a.rate() ?? 0));
    const onlyHolder = [...this.#holders.values()].filter((h) => h.usable).length === 1;
    // Each stream may hold one ring slot while its message arrives; with fewer streams than slots, some
    // slot is always free or with the worker (which needs no network to release it), so streams waiting
    // for a slot never starve the one that holds the last (their unread bytes fill the HTTP/2 window).
    const maxFetches = (this.#ring?.slotCount ?? 2) - 1;
    const share = Math.max(1, Math.floor(maxFetches / usable.length));
    for (const cap of [share, maxFetches]) {
      for (let round = 0, started = 1; started > 0 && round < 64; round++) {
        started = 0;
        for (const h of usable) {
          if (this.#fetches.size >= maxFetches) return;
          if (h.fetches >= cap) continue;
          const window = this.#windowOf(h);
          const room = window - h.inflight;
          if (room <= 0) continue;
          // A holder with calls in flight gets another only for a full batch or half its window: a call
          // costs the same on each side whatever it carries, and as a window opened piece by piece its
          // room was handed out in calls of 1 or 2 pieces.
          if (h.inflight > 0 && room < Math.min(this.#s.batchPieces, Math.ceil(window / 2))) continue;
          const batch = this.#pick(h, Math.min(room, this.#s.batchPieces), onlyHolder);
          if (batch.length === 0) continue;
          this.#startFetch(h, batch);
          started++;
        }
      }
    }
  }

  /** A holder's window: grown by delivery, capped by ~2 s of its measured rate (slow holders hold few pieces). */
  #windowOf(h: Holder): number {
    const rate = h.rate();
    let w = Math.floor(h.window);
    if (rate !== undefined) w = Math.min(w, Math.max(2, Math.ceil((rate * 2) / this.#manifest.pieceSize)));
    return Math.max(1, Math.min(this.#s.windowMaxPieces, w));
  }

  /** Chooses up to `n` pieces for a holder: given-back pieces first, then new ones, then (endgame) duplicates. */
  #pick(h: Holder, n: number, onlyHolder: boolean): number[] {
    const out: number[] = [];
    const state = this.#state;
    // Pieces given back; skip those this holder already sent bad unless nobody else is left.
    const keep: number[] = [];
    while (this.#returned.length > 0 && out.length < n) {
      const i = this.#returned.shift()!;
      if (state[i] !== MISSING) continue;
      if (!onlyHolder && this.#badFrom.get(i)?.has(h.ref.name)) {
        keep.push(i);
        continue;
      }
      out.push(i);
    }
    this.#returned.unshift(...keep);
    while (out.length < n && this.#cursor < state.length) {
      const i = this.#cursor++;
      if (state[i] === MISSING) out.push(i);
    }
    if (out.length === 0 && this.#returned.length === 0 && this.#cursor >= state.length) {
      // Endgame: every piece is handed out. Ask for pieces another holder has been working on for a
      // while, so the last pieces do not wait for the slowest holder; whichever copy verifies first
      // wins. Only late pieces: duplicating everything in flight would fetch whole windows twice.
      const lateBefore = Date.now() - ENDGAME_LATE_MS;
      for (let i = 0; i < state.length && out.length < n; i++) {
        if (state[i] === IN_FLIGHT && this.#owners[i]! < 2 && !h.owned.has(i) && this.#requestedAt[i]! < lateBefore) out.push(i);
      }
    }
    return out;
  }

  #startFetch(h: Holder, pieces: number[]): void {
    const now = Date.now();
    for (const i of pieces) {
      if (this.#owners[i] === 0) this.#requestedAt[i] = now;
      this.#state[i] = IN_FLIGHT;
      this.#owners[i]!++;
      h.owned.add(i);
    }
    h.inflight += pieces.length;
    const f: Fetch = { holder: h, pieces, controller: new AbortController(), lastBytesAtMs: Date.now(), paused: false };
    this.#fetches.add(f);
    h.fetches++;
    const onJobAbort = () => f.controller.abort(this.#signal.reason);
    this.#signal.addEventListener("abort", onJobAbort, { once: true });
    void this.#runFetch(f).finally(() => {
      this.#signal.removeEventListener("abort", onJobAbort);
      this.#fetches.delete(f);
      h.fetches--;
      this.#poke();
    });
  }

  async #runFetch(f: Fetch): Promise<void> {
    const h = f.holder;
    const pending = new Set(f.pieces);
    let broken = false;
    const onPiece = (piece: ReceivedPiece): boolean => {
      f.lastBytesAtMs = Date.now();
      const i = piece.pieceIndex;
      if (!pending.has(i)) {
        // Not asked for, or sent twice: a holder that breaks the protocol is treated like a corrupt one.
        piece.slot.release();
        this.#badPiece(h, undefined, `sent piece ${i}, which was not asked for`);
        broken = true;
        return false;
      }
      pending.delete(i);
      // Another holder's copy is already being checked or kept (endgame): this one is not needed.
      if (this.#state[i] !== IN_FLIGHT) {
        this.#release(h, i);
        piece.slot.release();
        return true;
      }
      this.#state[i] = CHECKING;
      this.#release(h, i);
      this.#process(h, piece);
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
        throw new PeerError("PEER_GONE", `${h.ref.name} ended the stream before sending every piece asked for.`);
      }
    } catch (err) {
      if (isPeerError(err, "PEER_MISBEHAVED") && !this.#signal.aborted) {
        this.#badPiece(h, undefined, err.message);
        this.#refetched += pending.size;
      } else {
        this.#fetchFailed(f, err, pending.size);
      }
    } finally {
      for (const i of pending) this.#release(h, i);
      this.#pump();
    }
  }

  /** The piece is no longer outstanding at this holder; if nobody else has it, it goes back to the pool. */
  #release(h: Holder, i: number): void {
    if (!h.owned.delete(i)) return;
    h.inflight--;
    this.#owners[i]!--;
    if (this.#state[i] === IN_FLIGHT && this.#owners[i] === 0) {
      this.#state[i] = MISSING;
      this.#returned.push(i);
    }
  }

  /**
   * Has the piece worker check the received piece's SHA-256 and write it, then counts it and saves the
   * state now and then. A bad piece goes back to be fetched from another holder. The slot is released
   * when the worker is done with it.
   */
  #process(h: Holder, piece: ReceivedPiece): void {
    const { pieceIndex: i, slot, offset, length } = piece;
    const task = (async () => {
      try {
        let ok: boolean;
        try {
          ok = length === pieceLength(this.#manifest.size, this.#manifest.pieceSize, i) && (await this.#worker!.verifyAndWrite(i, slot, offset, length));
        } catch (err) {
          if (this.#signal.aborted) return;
          this.#state[i] = MISSING;
          this.#fatal ??=
            isDiskFull(err)
              ? new PeerError("DISK_FULL", "The disk filled up during the download; it was stopped and nothing unverified was kept.", { cause: err })
              : err;
          this.#controller.abort(this.#fatal);
          return;
        }
        if (this.#signal.aborted) return;
        if (!ok) {
          // A twin still on its way from another holder may be good; otherwise back to the pool.
          if (this.#owners[i]! > 0) this.#state[i] = IN_FLIGHT;
          else {
            this.#state[i] = MISSING;
            this.#returned.push(i);
          }
          this.#badPiece(h, i, `sent a piece ${i} that failed verification`);
          return;
        }
        h.record(length);
        h.grow(this.#s.windowMaxPieces);
        h.failures = 0;
        this.#partial!.markVerified(i);
        this.#state[i] = VERIFIED;
        this.#verifiedCount++;
        this.#verifiedBytes += length;
        this.#transfer.setBytesDone(this.#verifiedBytes);
        this.#unsaved++;
        const now = Date.now();
        if (this.#unsaved >= DOWNLOAD_STATE_SAVE_PIECES || now - this.#lastSaveMs >= DOWNLOAD_STATE_SAVE_INTERVAL_MS) {
          this.#unsaved = 0;
          this.#lastSaveMs = now;
          this.#partial!.save().catch((err) => this.#log.warn({ err }, "could not save download state"));
        }
      } finally {
        slot.release();
        this.#poke();
      }
    })();
    this.#writes.add(task);
    void task.finally(() => this.#writes.delete(task));
  }

  #badPiece(h: Holder, i: number | undefined, what: string): void {
    h.bad++;
    this.#refetched++;
    if (i !== undefined) {
      const set = this.#badFrom.get(i) ?? new Set<string>();
      set.add(h.ref.name);
      this.#badFrom.set(i, set);
    }
    this.#log.warn({ holder: h.ref.name, bad: h.bad }, what);
    if (h.bad >= HOLDER_BAD_PIECES_BAN && !h.banned) {
      h.banned = true;
      this.#banned.add(h.ref.name);
      this.#log.warn({ holder: h.ref.name }, "holder banned for this transfer");
      for (const f of this.#fetches) if (f.holder === h) f.controller.abort(new PeerError("CANCELLED", `${h.ref.name} was banned for sending corrupt pieces.`));
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
      h.backOff();
      h.retryAtMs = Date.now() + this.#s.retryMinMs;
      return;
    }
    this.#refetched += undelivered;
    if (code === Code.NotFound || code === Code.InvalidArgument) {
      // It no longer holds this content (or serves another layout): no use retrying.
      h.dropped = true;
      this.#log.info({ holder: h.ref.name, err: (reason as Error)?.message }, "holder dropped");
      return;
    }
    h.failures++;
    h.backOff();
    h.retryAtMs = Date.now() + this.#s.retryMinMs * 2 ** (h.failures - 1);
    this.#log.info({ holder: h.ref.name, failures: h.failures, err: (reason as Error)?.message }, "fetch failed");
    if (h.failures >= HOLDER_FAILURES_DROP) {
      h.dropped = true;
      this.#deps.peers.drop(h.ref.address);
      this.#refresh(true);
    }
    this.#publish();
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
