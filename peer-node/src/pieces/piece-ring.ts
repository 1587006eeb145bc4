// The fixed memory a download receives pieces into: slots that the network reader fills
// (receive-pieces.ts) and the piece worker hashes and writes from (piece-worker.ts). A download never
// allocates per piece, so its memory is this ring plus the HTTP/2 windows, whatever the file size. When
// every slot is taken, readers wait, stop reading their streams, and HTTP/2 flow control slows the holders.
//
// Each slot is an ArrayBuffer of its own, lent to the worker (transferred, not copied) while it checks and
// writes the piece, then given back. Why not one SharedArrayBuffer both threads see: V8 copies into shared
// memory with relaxed atomic word moves, not memcpy, and the copy of each received chunk into a slot the
// worker had just read cost ~0.33 CPU-s per GiB on the network thread; into a transferred buffer, ~0.04
// (measured here, 2026-11-26).

/** One slot, owned by whoever acquired it until it is released (releasing twice is harmless). */
export interface PieceSlot {
  /** Index of the slot in the ring. */
  readonly index: number;
  /** The slot's bytes, slotBytes long (empty while the slot's memory is lent). */
  readonly bytes: Buffer;
  /** Hands the slot's memory over, to be transferred to a worker; `bytes` is unusable until `restore`. */
  lend(): ArrayBuffer;
  /** Takes the slot's memory back: the lent buffer, or (lost with a dead worker) none, and a new one is made. */
  restore(buffer?: ArrayBuffer): void;
  /** Gives the slot back to the ring. */
  release(): void;
}

/** A ring of equal slots. */
export class PieceRing {
  readonly slotBytes: number;
  readonly slotCount: number;
  /** Each slot's bytes: a view of its own ArrayBuffer. */
  readonly #views: Buffer[];
  readonly #free: number[];
  readonly #waiters: Array<(slot: number | Error) => void> = [];
  #closed: Error | undefined;

  /** A ring of `slotCount` slots (at least 2) of `slotBytes` each. */
  constructor(slotCount: number, slotBytes: number) {
    this.slotCount = Math.max(2, slotCount);
    this.slotBytes = slotBytes;
    this.#views = Array.from({ length: this.slotCount }, () => Buffer.from(new ArrayBuffer(slotBytes)));
    this.#free = Array.from({ length: this.slotCount }, (_, k) => this.slotCount - 1 - k);
  }

  /** Slots free right now. */
  get freeCount(): number {
    return this.#free.length;
  }

  /** A free slot now, or undefined when all are taken (or the ring is closed). */
  tryAcquire(): PieceSlot | undefined {
    if (this.#closed) return undefined;
    const index = this.#free.pop();
    return index === undefined ? undefined : this.#slot(index);
  }

  /** A free slot, waiting for one while all are taken; rejects when `signal` aborts or the ring closes. */
  acquire(signal: AbortSignal): Promise<PieceSlot> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal.aborted) return Promise.reject(signal.reason);
    const index = this.#free.pop();
    if (index !== undefined) return Promise.resolve(this.#slot(index));
    return new Promise<PieceSlot>((resolve, reject) => {
      const waiter = (got: number | Error) => {
        signal.removeEventListener("abort", onAbort);
        if (typeof got === "number") resolve(this.#slot(got));
        else reject(got);
      };
      const onAbort = () => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Fails every waiting and later acquire with `reason` (the download ended). */
  close(reason: Error): void {
    this.#closed ??= reason;
    for (const w of this.#waiters.splice(0)) w(reason);
  }

  #slot(index: number): PieceSlot {
    let held = true;
    const views = this.#views;
    const slotBytes = this.slotBytes;
    return {
      index,
      get bytes() {
        return views[index]!;
      },
      lend: () => views[index]!.buffer as ArrayBuffer,
      restore: (buffer) => {
        // A transferred buffer comes back whole; one that never left is still attached (byteLength > 0).
        views[index] = Buffer.from(buffer && buffer.byteLength === slotBytes ? buffer : new ArrayBuffer(slotBytes));
      },
      release: () => {
        if (!held) return;
        held = false;
        const next = this.#waiters.shift();
        if (next) next(index);
        else this.#free.push(index);
      },
    };
  }
}
