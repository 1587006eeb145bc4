// Holds back frequent progress so a transfer is redrawn a few times a second whatever the rate of its
// reports: every redraw of the transfer list costs the renderer's main thread (issue #20). State
// classes pace their updates here; components only draw what they are given.

interface Held {
  update: () => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Runs the updates of each key (a transfer id) at most once per interval, always the latest one. */
export class ProgressPacer {
  readonly #everyMs: number;
  readonly #now: () => number;
  readonly #ranAt = new Map<string, number>();
  readonly #held = new Map<string, Held>();

  constructor(everyMs: number, now: () => number = Date.now) {
    this.#everyMs = everyMs;
    this.#now = now;
  }

  /**
   * Runs `update` now when the key ran none within the interval; else keeps it, in place of any kept
   * before, and runs it when the interval is over.
   */
  pace(key: string, update: () => void): void {
    const held = this.#held.get(key);
    if (held !== undefined) {
      held.update = update;
      return;
    }
    const ranAt = this.#ranAt.get(key);
    const waitMs = ranAt === undefined ? 0 : ranAt + this.#everyMs - this.#now();
    if (waitMs <= 0) {
      this.#run(key, update);
      return;
    }
    const entry: Held = {
      update,
      timer: setTimeout(() => {
        this.#held.delete(key);
        this.#run(key, entry.update);
      }, waitMs),
    };
    this.#held.set(key, entry);
  }

  /** Runs the update kept for a key now, if there is one (before a change that must show at once). */
  flush(key: string): void {
    const held = this.#held.get(key);
    if (held === undefined) return;
    this.#drop(key);
    this.#run(key, held.update);
  }

  /** Forgets a key (its transfer ended or left the list): an update kept for it never runs. */
  forget(key: string): void {
    this.#drop(key);
    this.#ranAt.delete(key);
  }

  /** Forgets every key (logout). */
  clear(): void {
    for (const key of [...this.#held.keys()]) this.#drop(key);
    this.#ranAt.clear();
  }

  #run(key: string, update: () => void): void {
    this.#ranAt.set(key, this.#now());
    update();
  }

  #drop(key: string): void {
    const held = this.#held.get(key);
    if (held === undefined) return;
    clearTimeout(held.timer);
    this.#held.delete(key);
  }
}
