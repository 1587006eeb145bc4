import { RATE_WINDOW_MS } from "../constants.js";

/** Recent rate of a byte counter over a sliding window, for transfers the tab drives itself. */
export class RateMeter {
  #samples: { atMs: number; bytes: number }[] = [];
  #windowMs: number;

  constructor(windowMs: number = RATE_WINDOW_MS) {
    this.#windowMs = windowMs;
  }

  /** Records the counter's value now and returns the rate in bytes per second (0 until known). */
  sample(bytes: number, atMs: number = Date.now()): number {
    this.#samples.push({ atMs, bytes });
    while (this.#samples.length > 2 && atMs - (this.#samples[1]?.atMs ?? atMs) >= this.#windowMs) this.#samples.shift();
    const first = this.#samples[0];
    if (first === undefined) return 0;
    const elapsedMs = atMs - first.atMs;
    return elapsedMs > 0 ? ((bytes - first.bytes) * 1000) / elapsedMs : 0;
  }

  /** Starts over from a counter value (a new phase of the same transfer). */
  reset(bytes: number, atMs: number = Date.now()): void {
    this.#samples = [{ atMs, bytes }];
  }
}

/** Seconds left at a rate, 0 when unknown. */
export function etaSeconds(bytesLeft: number, bytesPerSecond: number): number {
  return bytesPerSecond > 0 && bytesLeft > 0 ? bytesLeft / bytesPerSecond : 0;
}
