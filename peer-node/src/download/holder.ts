// Holder policy: how much one download asks of one holder, and when it stops asking. Pure: no I/O, no
// clock of its own (times come in as numbers), so the scheduler and its tests drive it with plain data.
//
// - Window: the pieces the holder may have in flight. It opens by slow start while the holder delivers,
//   halves when a call fails or is refused as busy, and is capped by ~2 s of the holder's measured rate,
//   so slow holders hold few pieces and fast ones carry more of the file.
// - Back-off: after a failure the holder is asked again only after a delay that doubles per failure in a
//   row; it is dropped after HOLDER_FAILURES_DROP of them, at once when it no longer holds the content.
// - Ban: a holder that sent HOLDER_BAD_PIECES_BAN bad pieces is never asked again in this transfer.
// - Stall: a call that received no byte for the stall timeout, while not waiting for our own ring. A
//   holder that stalls before delivering a single verified piece is dropped at once and not asked again
//   (it offered the file and then sent nothing: the stall attack), instead of being retried.
import { HOLDER_BAD_PIECES_BAN, HOLDER_FAILURES_DROP } from "../constants.js";
import type { PeerRef } from "../transfer/api.js";

/** How long the rate estimate looks back: long enough to smooth bursts, short enough to follow a change. */
const RATE_WINDOW_MS = 3_000;
/** No rate estimate before this much history: a first burst says nothing about a holder's pace. */
const RATE_MIN_SPAN_MS = 1_000;
/** The window holds about this many seconds of the holder's measured delivery. */
const WINDOW_RATE_SECONDS = 2;

/** One holder as seen by one download. */
export class Holder {
  readonly ref: PeerRef;
  /** Pieces the holder may have in flight before the rate cap (see windowPieces); fractional while it grows. */
  window: number;
  /**
   * Until the holder first fails, its window grows by a piece per piece delivered (doubling per window, as
   * TCP's slow start), then by ~2 pieces per window. Additive growth alone took ~2,000 pieces to open a
   * window of 96 (a 16-piece batch on each of 6 streams): a 1 GiB download from one holder ran with 2-3
   * streams most of the way. The window stays capped by the holder's measured rate (windowPieces).
   */
  slowStart = true;
  /** Pieces asked of this holder and not yet delivered or given back. */
  inflight = 0;
  /** FetchPieces calls open to this holder. */
  fetches = 0;
  /** Pieces it sent that failed verification (or broke the protocol). */
  bad = 0;
  /** Calls that failed in a row (a verified piece resets it). */
  failures = 0;
  banned = false;
  dropped = false;
  /** Dropped because it stalled before delivering anything (see stalled): not asked again in this download. */
  neverDelivered = false;
  /** Not asked for anything before this time (ms, the caller's clock). */
  retryAtMs = 0;
  /** Pieces this holder has been asked for and not yet delivered. */
  readonly owned = new Set<number>();
  /** (time, bytes delivered so far) samples for the holder's recent rate. */
  readonly #samples: Array<[number, number]> = [];
  /** Bytes of verified pieces the holder delivered. */
  delivered = 0;

  constructor(ref: PeerRef, window: number) {
    this.ref = ref;
    this.window = window;
  }

  /** Neither banned nor dropped: it may be asked for pieces (once its back-off has passed). */
  get usable(): boolean {
    return !this.banned && !this.dropped;
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

  /** Records delivered bytes at `nowMs` for the rate estimate. */
  record(bytes: number, nowMs: number): void {
    this.delivered += bytes;
    this.#samples.push([nowMs, this.delivered]);
    while (this.#samples.length > 2 && nowMs - this.#samples[0]![0] > RATE_WINDOW_MS) this.#samples.shift();
  }

  /** Recent delivery rate in bytes per second, or undefined before a second of data. */
  rate(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last[0] - first[0] < RATE_MIN_SPAN_MS) return undefined;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }

  /** The window in whole pieces: grown by delivery, capped by ~2 s of its measured rate (at least 2) and by `max`. */
  windowPieces(pieceSize: number, max: number): number {
    const rate = this.rate();
    let w = Math.floor(this.window);
    if (rate !== undefined) w = Math.min(w, Math.max(2, Math.ceil((rate * WINDOW_RATE_SECONDS) / pieceSize)));
    return Math.max(1, Math.min(max, w));
  }

  /** A piece from it verified at `nowMs`: its rate and window grow, and its run of failures ends. */
  verified(bytes: number, nowMs: number, windowMax: number): void {
    this.record(bytes, nowMs);
    this.grow(windowMax);
    this.failures = 0;
  }

  /** It sent a bad piece; returns true when this one gets it banned. */
  sentBadPiece(): boolean {
    this.bad++;
    if (this.bad < HOLDER_BAD_PIECES_BAN || this.banned) return false;
    this.banned = true;
    return true;
  }

  /** It refused a call as busy (its stream limit): not its fault; it is asked again after `retryMinMs`. */
  busy(nowMs: number, retryMinMs: number): void {
    this.backOff();
    this.retryAtMs = nowMs + retryMinMs;
  }

  /** It no longer holds the content (or serves another layout): no use asking it again. */
  gone(): void {
    this.dropped = true;
  }

  /** A call to it stalled: true when this drops it for good, because it never delivered a verified piece. */
  stalled(nowMs: number, retryMinMs: number): boolean {
    if (this.delivered > 0) return this.failed(nowMs, retryMinMs);
    this.failures++;
    this.neverDelivered = true;
    this.dropped = true;
    return true;
  }

  /** A call to it failed: it backs off, for longer per failure in a row; returns true when this failure drops it. */
  failed(nowMs: number, retryMinMs: number): boolean {
    this.failures++;
    this.backOff();
    this.retryAtMs = nowMs + retryMinMs * 2 ** (this.failures - 1);
    if (this.failures < HOLDER_FAILURES_DROP) return false;
    this.dropped = true;
    return true;
  }
}

/** What stall detection needs of a call in flight. */
export interface CallProgress {
  /** When the call last received a byte (or started, or stopped waiting for a ring slot). */
  readonly lastBytesAtMs: number;
  /** Waiting for a free ring slot (our own disk), not for the holder. */
  readonly paused: boolean;
}

/** A call stalled: no byte for `stallTimeoutMs` while it was not waiting for our own ring. */
export function callStalled(call: CallProgress, nowMs: number, stallTimeoutMs: number): boolean {
  return !call.paused && nowMs - call.lastBytesAtMs > stallTimeoutMs;
}
