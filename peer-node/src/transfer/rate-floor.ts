// The slowest stream a pserver keeps receiving: pushes and every FetchPieces answer. An idle timeout
// alone lets a sender hold a stream slot and a partial file for ever with one byte every few seconds;
// this floor asks for TRANSFER_MIN_BYTES_PER_SECOND over a sliding window instead.

/** Options of a RateFloor. */
export interface RateFloorOptions {
  readonly minBytesPerSecond: number;
  /** The window the rate is measured over (it is also the grace at the start). */
  readonly windowMs: number;
  /** The clock (tests pass their own). */
  readonly now?: () => number;
}

/** Bytes received per slice of the window, where the window's slices are BUCKETS. */
const BUCKETS = 20;

/**
 * Counts received bytes over a sliding window. `tooSlow(remaining)` is true once a whole window has
 * passed since the start (or the last `restart`) and fewer bytes arrived over the last window than the
 * floor asks for, or than were left to send, whichever is less (a stream whose last few bytes
 * fit in a burst is never cut for being short of the floor).
 */
export class RateFloor {
  readonly #minBytesPerSecond: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #sliceMs: number;
  /** Bytes per slice, indexed by slice number modulo BUCKETS. */
  readonly #buckets = new Float64Array(BUCKETS);
  #lastSlice: number;
  #startedAtMs: number;

  constructor(options: RateFloorOptions) {
    this.#minBytesPerSecond = options.minBytesPerSecond;
    this.#windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
    this.#sliceMs = options.windowMs / BUCKETS;
    this.#startedAtMs = this.#now();
    this.#lastSlice = Math.floor(this.#startedAtMs / this.#sliceMs);
  }

  /** The floor in bytes per second. */
  get minBytesPerSecond(): number {
    return this.#minBytesPerSecond;
  }

  /** Counts bytes that just arrived. */
  add(bytes: number): void {
    this.#advance();
    this.#buckets[this.#lastSlice % BUCKETS]! += bytes;
  }

  /** Starts measuring afresh (after a pause that was not the sender's doing, e.g. our own disk). */
  restart(): void {
    this.#buckets.fill(0);
    this.#startedAtMs = this.#now();
    this.#lastSlice = Math.floor(this.#startedAtMs / this.#sliceMs);
  }

  /** Whether the sender is below the floor, `remainingBytes` being what it still had to send. */
  tooSlow(remainingBytes: number): boolean {
    this.#advance();
    if (this.#now() - this.#startedAtMs < this.#windowMs) return false;
    let got = 0;
    for (const b of this.#buckets) got += b;
    // The slice now under way has only begun: ask for the floor over the window's other slices.
    const asked = Math.min((this.#minBytesPerSecond * (this.#windowMs - this.#sliceMs)) / 1000, remainingBytes + got);
    return got < asked;
  }

  /** Zeroes the slices that fell out of the window since the last call. */
  #advance(): void {
    const slice = Math.floor(this.#now() / this.#sliceMs);
    const passed = Math.min(BUCKETS, slice - this.#lastSlice);
    for (let i = 1; i <= passed; i++) this.#buckets[(this.#lastSlice + i) % BUCKETS] = 0;
    this.#lastSlice = Math.max(this.#lastSlice, slice);
  }
}
