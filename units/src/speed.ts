// The speed and time left a person sees for a transfer: smoothed, and hidden while they would read wrong.

import { SPEED_SMOOTHING_MS, SPEED_WARMUP_MS } from "./constants.js";

/** What the tab's transfer list and the CLI's progress show as speed and time left. */
export interface SpeedReading {
  bytesPerSecond: number;
  /** Undefined when the total is unknown or nothing moves. */
  secondsLeft: number | undefined;
}

/** Tunables of {@link SpeedSmoother}. */
export interface SpeedSmootherOptions {
  /** Time constant of the moving average: older rates weigh e^(-age/tau). */
  tauMs?: number;
  /** How long after the first sample nothing is shown. */
  warmupMs?: number;
}

/**
 * The speed of one transfer as an exponentially weighted moving average of the byte counter's
 * growth, weighted by time (reports come at uneven intervals). The first seconds of a transfer
 * are hidden: a rate limiter's initial burst and the first report's short interval read several
 * times too high (20 MB/s shown under a 4 MB/s cap), and a time left computed from them is wrong.
 */
export class SpeedSmoother {
  readonly #tauMs: number;
  readonly #warmupMs: number;
  #startedAtMs: number | undefined;
  #lastAtMs = 0;
  #lastBytes = 0;
  #rate: number | undefined;

  constructor(options: SpeedSmootherOptions = {}) {
    this.#tauMs = options.tauMs ?? SPEED_SMOOTHING_MS;
    this.#warmupMs = options.warmupMs ?? SPEED_WARMUP_MS;
  }

  /** Records the byte counter at a moment; a counter that went backwards starts the average over. */
  sample(bytes: number, atMs: number): void {
    if (this.#startedAtMs === undefined || bytes < this.#lastBytes) {
      this.#startedAtMs = atMs;
      this.#lastAtMs = atMs;
      this.#lastBytes = bytes;
      this.#rate = undefined;
      return;
    }
    const elapsedMs = atMs - this.#lastAtMs;
    // Two reports in the same millisecond: the next sample's interval carries these bytes too.
    if (elapsedMs <= 0) return;
    const instant = ((bytes - this.#lastBytes) * 1000) / elapsedMs;
    const weight = 1 - Math.exp(-elapsedMs / this.#tauMs);
    this.#rate = this.#rate === undefined ? instant : this.#rate + weight * (instant - this.#rate);
    this.#lastAtMs = atMs;
    this.#lastBytes = bytes;
  }

  /** The smoothed speed and time left at `atMs`; undefined during the first seconds. */
  reading(bytesTotal: number, atMs: number): SpeedReading | undefined {
    const rate = this.#rate;
    if (this.#startedAtMs === undefined || rate === undefined || atMs - this.#startedAtMs < this.#warmupMs) return undefined;
    const bytesLeft = bytesTotal - this.#lastBytes;
    return { bytesPerSecond: rate, secondsLeft: rate > 0 && bytesTotal > 0 && bytesLeft > 0 ? bytesLeft / rate : undefined };
  }
}
