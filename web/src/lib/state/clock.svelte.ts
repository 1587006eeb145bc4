import { CLOCK_TICK_MS } from "../constants.js";

/** A clock that ticks every second, so "12 s ago" labels stay true without each component polling. */
export class Clock {
  now = $state(Date.now());
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Starts ticking (idempotent). */
  start(tickMs: number = CLOCK_TICK_MS): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.now = Date.now();
    }, tickMs);
  }

  /** Stops ticking. */
  destroy(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
