// The fetching of a download's pieces against the manifest the content id names: the scheduler decides which pieces to ask which holder for,
// and this runs those FetchPieces calls. Each piece is received straight into a slot of the download's
// fixed ring (receive-pieces.ts) and handed to the intake, whose worker checks and writes it
// (piece-intake.ts). Reading pauses while every slot waits for the disk, so memory is the ring whatever
// the file size.
//
// What comes of a call goes back to the scheduler and the holder policy: a bad piece is fetched again
// from another holder and its sender is banned at the third; a call that fails or sends no bytes for the
// stall timeout gives its pieces back and its holder backs off; a holder that fails again and again is
// dropped and the directory is asked for others.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { HOLDERS_PER_DOWNLOAD_MAX, PIECE_MESSAGE_SLACK_BYTES, PIECE_RING_MIN_SLOTS } from "../constants.js";
import { PeerError, isPeerError } from "../errors.js";
import type { PeerClients } from "../pieces/peer-clients.js";
import { PieceRing } from "../pieces/piece-ring.js";
import type { ReceivedPiece } from "../pieces/receive-pieces.js";
import type { Manifest } from "../store/file-store.js";
import type { PeerRef } from "../transfer/api.js";
import { pieceLength } from "../store/pieces.js";
import { formatBytes } from "../transfer/format.js";
import { RateFloor } from "../transfer/rate-floor.js";
import { sleep } from "../transfer/rate-limiter.js";
import type { Transfer } from "../transfer/transfer.js";
import { callStalled, type Holder } from "./holder.js";
import type { HolderLookup } from "./holder-lookup.js";
import type { ManifestChoice } from "./manifest-choice.js";
import type { PartialDownload } from "./partial-download.js";
import { PieceIntake } from "./piece-intake.js";
import type { PieceWorker } from "./piece-worker.js";
import type { SaveCadence } from "./save-cadence.js";
import { PieceScheduler } from "./scheduler.js";
import type { Settings } from "./settings.js";

/** What a try uses of its download job. */
export interface AttemptContext {
  readonly peers: PeerClients;
  readonly settings: Settings;
  readonly transfer: Transfer;
  readonly log: Logger;
  /** The job's: aborted on cancel, shutdown or the job's end; a try aborts it when it cannot go on (disk). */
  readonly controller: AbortController;
  readonly lookup: HolderLookup;
  readonly manifests: ManifestChoice;
  /** Holders not to ask (banned, distrusted); a ban in this try adds to it. */
  readonly banned: Set<string>;
  readonly saves: SaveCadence;
  /** Pieces fetched again in earlier tries (the transfer shows the total). */
  readonly refetchedBefore: number;
  /** The piece worker the job started while it got the manifest; the try opens it on its partial file and owns it from then on. */
  readonly pieceWorker?: PieceWorker;
}

/** One FetchPieces call in flight. */
interface Call {
  readonly holder: Holder;
  readonly pieces: number[];
  readonly controller: AbortController;
  lastBytesAtMs: number;
  /** Waiting for a free ring slot (our own disk), not for the holder. */
  paused: boolean;
  /** The holder's rate over the last window (a trickle is cut like a stall). */
  readonly floor: RateFloor;
  /** Bytes of the asked pieces not yet received (framing aside). */
  remainingBytes: number;
}

/** Marks a call cut by the rate floor (as its error's cause), so its holder is not brought back. */
const TOO_SLOW = Symbol("below the rate floor");

/** One try with one manifest: its ring, piece worker, schedule and calls. */
export class DownloadAttempt {
  readonly #c: AttemptContext;
  readonly #partial: PartialDownload;
  readonly #scheduler: PieceScheduler;
  /** Where pieces are received; its slots are the only piece memory of the download. */
  readonly #ring: PieceRing;
  readonly #intake: PieceIntake;
  readonly #calls = new Set<Call>();
  readonly #manifest: Manifest;
  /** Holders dropped for sending below the rate floor: a refresh does not bring them back in this try. */
  readonly #tooSlow = new Set<string>();
  #wake: (() => void) | undefined;
  #lastRefreshMs = 0;
  /** When a holder was last refused (banned, or dropped for sending nothing), and when a refresh last answered. */
  #refusedAtMs = 0;
  #refreshedAtMs = 0;
  #refreshing: Promise<void> | undefined;
  /** Every piece is in: endgame twins still on the wire are cut off, and their failures mean nothing. */
  #finishing = false;
  /** Stopped for another try: calls still winding down must not start new ones or report. */
  #stopped = false;
  /** Pieces fetched again so far, earlier tries included. */
  refetched: number;

  /** A try on `partial` (created for `manifest`) with the holders that serve it. */
  constructor(context: AttemptContext, manifest: Manifest, partial: PartialDownload, holders: readonly PeerRef[]) {
    this.#manifest = manifest;
    this.#c = context;
    this.#partial = partial;
    this.refetched = context.refetchedBefore;
    this.#scheduler = new PieceScheduler(manifest, partial.count, (i) => partial.has(i), context.settings);
    for (const ref of holders) this.#scheduler.addHolder(ref);
    // The ring holds as many pieces as may wait to be written, plus one. A slot also holds the message's
    // framing around the piece (a few bytes; a foreign holder may add unknown fields).
    const slots = Math.max(PIECE_RING_MIN_SLOTS, Math.ceil(context.settings.unwrittenMaxBytes / manifest.pieceSize) + 1);
    this.#ring = new PieceRing(slots, manifest.pieceSize + PIECE_MESSAGE_SLACK_BYTES);
    this.#intake = new PieceIntake({
      manifest,
      partial,
      scheduler: this.#scheduler,
      transfer: context.transfer,
      saves: context.saves,
      log: context.log,
      controller: context.controller,
      onBadPiece: (h, i) => this.#badPiece(h, i, `sent a piece ${i} that failed verification`),
      onChecked: () => this.#poke(),
      worker: context.pieceWorker,
    });
  }

  get #signal(): AbortSignal {
    return this.#c.controller.signal;
  }

  /** Bytes of the pieces verified so far (saved ones included). */
  get verifiedBytes(): number {
    return this.#scheduler.verifiedBytes;
  }

  /** Every holder this try has known. */
  holders(): Holder[] {
    return [...this.#scheduler.holders()];
  }

  /** Fetches every missing piece and saves the resume state; throws when no holder is left or the disk fails. */
  async fetchAll(): Promise<void> {
    const s = this.#c.settings;
    const tick = setInterval(() => this.#onTick(), Math.max(50, Math.min(1_000, s.stallTimeoutMs / 4)));
    tick.unref();
    this.#lastRefreshMs = Date.now();
    let noHolderSinceMs: number | undefined;
    try {
      while (!this.#scheduler.complete) {
        if (this.#intake.fatal !== undefined) throw this.#intake.fatal;
        this.#signal.throwIfAborted();
        this.#pump();
        if (this.#scheduler.usableCount() === 0 && this.#calls.size === 0) {
          noHolderSinceMs ??= Date.now();
          if (Date.now() - noHolderSinceMs >= s.noHolderGraceMs) throw this.#noHolderLeft();
          // Every holder was refused (corrupt pieces, or nothing sent) and the directory, asked since,
          // named no other: waiting out the grace would only keep a dead download RUNNING.
          if (this.#allRefused() && this.#refreshedAtMs > this.#refusedAtMs) throw this.#noHolderLeft();
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
      if (this.#intake.fatal !== undefined) throw this.#intake.fatal;
      await this.#intake.written();
      await this.#partial.save();
    } finally {
      clearInterval(tick);
    }
  }

  /** Every piece is in: cuts off the endgame twins still on the wire. */
  stopFetching(): void {
    this.#finishing = true;
    for (const call of this.#calls) call.controller.abort();
  }

  /** Every piece is verified and written: closes the worker's file and ends the worker. */
  finish(): Promise<void> {
    return this.#intake.finish();
  }

  /** Stops every call and the worker, and waits until every call and write has stopped. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const call of this.#calls) call.controller.abort();
    this.#intake.destroy();
    this.#ring.close(new Error("the download stopped"));
    for (let i = 0; i < 100 && (this.#calls.size > 0 || this.#intake.pending > 0); i++) {
      await Promise.race([this.#intake.settled(), sleep(20)]);
    }
    await this.#refreshing?.catch(() => undefined);
  }

  /** Every holder this try has known was refused for what it did, none merely unreachable. */
  #allRefused(): boolean {
    const holders = this.holders();
    return holders.length > 0 && holders.every((h) => h.banned || h.neverDelivered);
  }

  #noHolderLeft(): PeerError {
    const holders = this.holders();
    const corrupt = holders.filter((h) => h.banned).map((h) => h.ref.name);
    const silent = holders.filter((h) => h.neverDelivered).map((h) => h.ref.name);
    const stall = Math.round(this.#c.settings.stallTimeoutMs / 1000);
    return new PeerError(
      "NO_HOLDERS",
      `No peer holding this file is reachable any more (${holders.length} tried` +
        (corrupt.length > 0 ? `; ${corrupt.join(", ")} banned for sending corrupt pieces` : "") +
        (silent.length > 0 ? `; ${silent.join(", ")} sent no piece for ${stall} s` : "") +
        ").",
    );
  }

  #poke(): void {
    this.#wake?.();
  }

  /** Periodic work: stalled calls, holder refresh, progress fields. */
  #onTick(): void {
    const now = Date.now();
    const s = this.#c.settings;
    for (const call of this.#calls) {
      if (callStalled(call, now, s.stallTimeoutMs)) {
        call.controller.abort(new PeerError("STALLED", `${call.holder.ref.name} sent nothing for ${Math.round(s.stallTimeoutMs / 1000)} s.`));
      } else if (!call.paused && call.floor.tooSlow(call.remainingBytes)) {
        const floor = `${formatBytes(s.floorBytesPerSecond)}/s over ${Math.round(s.floorWindowMs / 1000)} s`;
        call.controller.abort(new PeerError("STALLED", `${call.holder.ref.name} sent slower than ${floor}; its pieces go to other holders.`, { cause: TOO_SLOW }));
      }
    }
    if (now - this.#lastRefreshMs >= s.holderRefreshMs) this.#refresh(false);
    this.publish();
    this.#pump();
  }

  /** Shows the holders pieces come from, the banned ones and the refetch count on the transfer. */
  publish(): void {
    if (this.#stopped) return;
    const sources = this.holders().filter((h) => h.usable && h.inflight > 0).map((h) => h.ref.name);
    this.#c.transfer.update({ sources, bannedPeers: [...this.#c.banned], piecesRefetched: this.refetched });
  }

  /** Asks the directory for holders again and adds those that serve the same manifest. */
  #refresh(urgent: boolean): void {
    if (this.#refreshing || this.#stopped) return;
    const s = this.#c.settings;
    if (urgent && Date.now() - this.#lastRefreshMs < Math.min(1_000, s.holderRefreshMs)) return;
    this.#lastRefreshMs = Date.now();
    this.#refreshing = (async () => {
      const usable = this.#scheduler.usableCount();
      const refs = (await this.#c.lookup.find()).filter((r) => {
        const h = this.#scheduler.holder(r.name);
        return (!h || h.dropped) && !this.#tooSlow.has(r.name);
      });
      for (const ref of refs.slice(0, Math.max(0, HOLDERS_PER_DOWNLOAD_MAX - usable))) {
        if (await this.#c.manifests.serves(ref)) {
          this.#scheduler.addHolder(ref);
          this.#c.log.debug({ holder: ref.name }, "holder added");
        }
      }
      this.#refreshedAtMs = Date.now();
    })()
      .catch((err) => {
        if (!this.#signal.aborted) this.#c.log.debug({ err }, "holder refresh failed");
      })
      .finally(() => {
        this.#refreshing = undefined;
        this.#poke();
      });
  }

  /** Starts the calls the scheduler plans. */
  #pump(): void {
    if (this.#signal.aborted || this.#intake.fatal !== undefined || this.#stopped) return;
    // Each stream may hold one ring slot while its message arrives; with fewer streams than slots, some
    // slot is always free or with the worker (which needs no network to release it), so streams waiting
    // for a slot never starve the one that holds the last (their unread bytes fill the HTTP/2 window).
    const maxCalls = this.#ring.slotCount - 1;
    for (const planned of this.#scheduler.plan(Date.now(), maxCalls)) this.#startCall(planned.holder, planned.pieces);
  }

  #startCall(h: Holder, pieces: number[]): void {
    const s = this.#c.settings;
    const floor = new RateFloor({ minBytesPerSecond: s.floorBytesPerSecond, windowMs: s.floorWindowMs });
    const remainingBytes = pieces.reduce((sum, i) => sum + pieceLength(this.#manifest.size, this.#manifest.pieceSize, i), 0);
    const call: Call = { holder: h, pieces, controller: new AbortController(), lastBytesAtMs: Date.now(), paused: false, floor, remainingBytes };
    this.#calls.add(call);
    const onJobAbort = () => call.controller.abort(this.#signal.reason);
    this.#signal.addEventListener("abort", onJobAbort, { once: true });
    void this.#runCall(call).finally(() => {
      this.#signal.removeEventListener("abort", onJobAbort);
      this.#calls.delete(call);
      this.#scheduler.callEnded(h);
      this.#poke();
    });
  }

  async #runCall(call: Call): Promise<void> {
    const h = call.holder;
    const pending = new Set(call.pieces);
    let broken = false;
    const onPiece = (piece: ReceivedPiece): boolean => {
      call.lastBytesAtMs = Date.now();
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
      if (!this.#scheduler.received(h, i)) {
        piece.slot.release();
        return true;
      }
      this.#intake.take(h, piece);
      broken = h.banned;
      return !broken;
    };
    try {
      await this.#c.peers.fetchPieces(
        h.ref.address,
        { contentId: this.#c.transfer.contentId, pieceIndexes: call.pieces },
        {
          ring: this.#ring,
          signal: call.controller.signal,
          onPiece,
          onBytes: (bytes) => {
            call.lastBytesAtMs = Date.now();
            call.floor.add(bytes);
            call.remainingBytes = Math.max(0, call.remainingBytes - bytes);
          },
          onWaiting: (waiting) => {
            call.paused = waiting;
            call.lastBytesAtMs = Date.now();
            // Time spent waiting for our own ring is not the holder's: measure afresh.
            if (!waiting) call.floor.restart();
          },
        },
      );
      if (!broken && pending.size > 0) {
        throw new PeerError("PEER_GONE", `${h.ref.name} ended the stream before sending every piece asked for.`);
      }
    } catch (err) {
      if (isPeerError(err, "PEER_MISBEHAVED") && !this.#signal.aborted) {
        this.#badPiece(h, undefined, err.message);
        this.refetched += pending.size;
      } else {
        this.#callFailed(call, err, pending.size);
      }
    } finally {
      for (const i of pending) this.#scheduler.release(h, i);
      this.#pump();
    }
  }

  #badPiece(h: Holder, i: number | undefined, what: string): void {
    const bannedNow = this.#scheduler.badPiece(h, i);
    this.refetched++;
    this.#c.log.warn({ holder: h.ref.name, bad: h.bad }, what);
    if (bannedNow) {
      this.#c.banned.add(h.ref.name);
      this.#refusedAtMs = Date.now();
      this.#c.log.warn({ holder: h.ref.name }, "holder banned for this transfer");
      for (const call of this.#calls) if (call.holder === h) call.controller.abort(new PeerError("CANCELLED", `${h.ref.name} was banned for sending corrupt pieces.`));
    }
    this.publish();
  }

  /** A call failed: its pieces go back; the holder backs off, and is dropped after repeated failures. */
  #callFailed(call: Call, err: unknown, undelivered: number): void {
    const h = call.holder;
    if (this.#signal.aborted || this.#finishing || this.#stopped || h.banned) return;
    const reason = call.controller.signal.aborted ? call.controller.signal.reason : err;
    const code = reason instanceof ConnectError ? reason.code : err instanceof ConnectError ? err.code : undefined;
    if (code === Code.ResourceExhausted) {
      // The holder is busy (per-peer stream limit): not its fault, nothing to count as refetched.
      h.busy(Date.now(), this.#c.settings.retryMinMs);
      return;
    }
    this.refetched += undelivered;
    if (code === Code.NotFound || code === Code.InvalidArgument) {
      // It no longer holds this content (or serves another layout): no use retrying.
      h.gone();
      this.#c.log.info({ holder: h.ref.name, err: (reason as Error)?.message }, "holder dropped");
      return;
    }
    const now = Date.now();
    const droppedNow = isPeerError(reason, "STALLED") ? h.stalled(now, this.#c.settings.retryMinMs) : h.failed(now, this.#c.settings.retryMinMs);
    if (droppedNow && reason instanceof PeerError && reason.cause === TOO_SLOW) this.#tooSlow.add(h.ref.name);
    if (h.neverDelivered) {
      // It offered the file and then sent nothing: not asked again (nor re-added by a refresh) in this download.
      this.#c.banned.add(h.ref.name);
      this.#refusedAtMs = Date.now();
      this.#c.log.warn({ holder: h.ref.name }, "holder sent no piece before the stall timeout; not asking it again for this file");
      this.#c.peers.drop(h.ref.address);
      this.#refresh(true);
      this.publish();
      return;
    }
    this.#c.log.info({ holder: h.ref.name, failures: h.failures, err: (reason as Error)?.message }, "fetch failed");
    if (droppedNow) {
      this.#c.peers.drop(h.ref.address);
      this.#refresh(true);
    }
    this.publish();
  }
}
