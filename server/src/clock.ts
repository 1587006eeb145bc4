// One source of "now" for everything that decides liveness. The SQLite store reads the process clock
// through this; a PostgreSQL store would use the database's clock so that two directory instances agree.

/** A source of the current time in milliseconds since the Unix epoch. */
export interface Clock {
  /** Returns the current time in milliseconds since the Unix epoch. */
  now(): number;
}

/** The process clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to: tests use it to expire sessions and tickets without waiting. */
export class ManualClock implements Clock {
  #nowMs: number;

  /** Starts the clock at `startMs` (default 2026-01-01T00:00:00Z). */
  constructor(startMs: number = Date.UTC(2026, 0, 1)) {
    this.#nowMs = startMs;
  }

  /** Returns the clock's current time. */
  now(): number {
    return this.#nowMs;
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward (got ${ms} ms)`);
    this.#nowMs += ms;
  }
}
