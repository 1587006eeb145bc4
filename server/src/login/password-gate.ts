// Bounded scrypt work. Every password hash or check goes through one gate: at most `concurrency` run at
// once (scrypt runs on libuv's thread pool, which the store and DNS share), the rest wait in one of two
// bounded queues. Logins from an account's usual IP wait in the priority lane, which is always served
// first, so a flood of wrong passwords from elsewhere cannot make the owner's login wait behind it. A
// full queue refuses at once (503 with Retry-After) instead of letting waits grow without bound.

/** A password check waiting for a slot. */
interface Waiter {
  start: () => void;
}

/** Counters of the gate, for /metrics. */
export interface PasswordGateStats {
  /** Checks running now. */
  running: number;
  /** Checks waiting in the normal lane. */
  queued: number;
  /** Checks waiting in the priority lane. */
  priorityQueued: number;
  /** Checks refused because their lane was full, since start. */
  rejected: number;
  /** Checks that ran, since start. */
  completed: number;
}

/** Thrown (and turned into 503) when the lane a check would wait in is full. */
export class PasswordQueueFull extends Error {
  constructor() {
    super("too many logins are waiting for a password check");
    this.name = "PasswordQueueFull";
  }
}

/** The gate; one per directory process. */
export class PasswordGate {
  readonly #concurrency: number;
  readonly #queueLength: number;
  readonly #priorityQueueLength: number;
  readonly #normal: Waiter[] = [];
  readonly #priority: Waiter[] = [];
  #running = 0;
  #rejected = 0;
  #completed = 0;

  /** A gate running `concurrency` checks at once, with lanes of the given lengths. */
  constructor(concurrency: number, queueLength: number, priorityQueueLength: number) {
    this.#concurrency = Math.max(1, concurrency);
    this.#queueLength = queueLength;
    this.#priorityQueueLength = priorityQueueLength;
  }

  /** Runs `work` when a slot is free (priority lane first); throws PasswordQueueFull when its lane is full. */
  async run<T>(priority: boolean, work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      const lane = priority ? this.#priority : this.#normal;
      if (lane.length >= (priority ? this.#priorityQueueLength : this.#queueLength)) {
        this.#rejected += 1;
        throw new PasswordQueueFull();
      }
      await new Promise<void>((start) => lane.push({ start }));
    } else {
      this.#running += 1;
    }
    try {
      return await work();
    } finally {
      this.#completed += 1;
      const next = this.#priority.shift() ?? this.#normal.shift();
      // The slot passes straight to the next waiter, so `running` stays the same.
      if (next) next.start();
      else this.#running -= 1;
    }
  }

  /** The gate's counters now. */
  stats(): PasswordGateStats {
    return {
      running: this.#running,
      queued: this.#normal.length,
      priorityQueued: this.#priority.length,
      rejected: this.#rejected,
      completed: this.#completed,
    };
  }
}
