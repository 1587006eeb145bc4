// A fixed-window request counter per key, in process memory: the per-IP and per-session rate limits.
// Synchronous and allocation-light, because it runs on every heartbeat (the directory's hottest route);
// @fastify/rate-limit's async, LRU-backed path cost a measurable share of a heartbeat.
// Limits are per directory instance; with several instances behind one address each counts its own.

/** Counts requests per key in fixed windows and says when a key is over its limit. */
export class FixedWindowLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  #windowStart: number;
  #counts = new Map<string, number>();

  /** Allows `max` hits per key per `windowMs`, tracking at most `maxKeys` keys per window. */
  constructor(max: number, windowMs: number, maxKeys: number, now: () => number = Date.now) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
    this.#now = now;
    this.#windowStart = now();
  }

  /** Counts a hit for `key`; returns 0 when allowed, else the seconds until the window ends. */
  hit(key: string): number {
    const now = this.#now();
    if (now - this.#windowStart >= this.#windowMs) {
      // All keys share one window, so starting a new one is dropping the map: no per-key timers.
      this.#windowStart = now - ((now - this.#windowStart) % this.#windowMs);
      this.#counts = new Map();
    }
    const count = (this.#counts.get(key) ?? 0) + 1;
    // Past maxKeys distinct keys (a flood of made-up tokens), new keys are not tracked: they still
    // fail authentication, and the per-IP limit applies to them.
    if (count === 1 && this.#counts.size >= this.#maxKeys) return 0;
    this.#counts.set(key, count);
    return count > this.#max ? Math.max(1, Math.ceil((this.#windowStart + this.#windowMs - now) / 1000)) : 0;
  }
}
