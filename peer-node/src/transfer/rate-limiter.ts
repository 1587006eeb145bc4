// A token bucket for upload bytes, shared by every stream of one pserver.

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
