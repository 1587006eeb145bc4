// A token bucket for upload bytes, shared by every stream of one pserver.
import { UPLOAD_SLICE_MAX_BYTES, UPLOAD_SLICE_MIN_BYTES, UPLOAD_SLICE_MS } from "../constants.js";

/** Waits so that bytes taken through it average at most `bytesPerSecond`, with a short burst allowance. */
export class RateLimiter {
  readonly #bytesPerSecond: number;
  readonly #burstMs: number;
  /** When the bytes granted so far will have "drained" at the set rate (GCRA's theoretical arrival time). */
  #tatMs = 0;

  /** The cap. */
  get bytesPerSecond(): number {
    return this.#bytesPerSecond;
  }

  constructor(bytesPerSecond: number, burstMs: number) {
    if (!(bytesPerSecond > 0)) throw new RangeError("bytesPerSecond must be positive");
    this.#bytesPerSecond = bytesPerSecond;
    this.#burstMs = burstMs;
  }

  /** Resolves when `bytes` may be sent; rejects with the signal's reason if it aborts first. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    // Reserve the slot first, so concurrent streams queue up fairly instead of all waking at once.
    this.#tatMs = Math.max(this.#tatMs, now) + (bytes * 1000) / this.#bytesPerSecond;
    const waitMs = this.#tatMs - now - this.#burstMs;
    if (waitMs <= 0) return;
    await sleep(waitMs, signal);
  }
}

/**
 * How many bytes a capped sender sends at a time: UPLOAD_SLICE_MS of the cap, within bounds. Sending a
 * piece in slices keeps its bytes flowing under a low cap (served pieces, pushed parts).
 */
export function sliceBytes(bytesPerSecond: number): number {
  return Math.min(UPLOAD_SLICE_MAX_BYTES, Math.max(UPLOAD_SLICE_MIN_BYTES, Math.floor((bytesPerSecond * UPLOAD_SLICE_MS) / 1000)));
}

/** setTimeout as a promise that an AbortSignal can cut short. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
