// SHA-256 of pieces in a few hash workers (hash-worker.ts) beside the store worker, so a download
// hashes pieces on other cores while it goes on reading and writing. A piece's memory is transferred
// to a hasher and back, never copied.
import { BROWSER_PEER_HASH_WORKERS_MAX } from "../constants.js";

/** A piece to hash (its buffer is transferred). */
export interface HashRequest {
  id: number;
  bytes: Uint8Array<ArrayBuffer>;
}

/** The piece back, with its digest or the hasher's error. */
export type HashAnswer = { id: number; bytes: Uint8Array<ArrayBuffer> } & ({ digest: Uint8Array; error?: undefined } | { error: string; digest?: undefined });

interface Hasher {
  worker: Worker;
  busy: number;
}

/** The hash workers of one download or one file's hashing before an import. */
export class HashPool {
  readonly #hashers: Hasher[] = [];
  readonly #waiting = new Map<number, { resolve: (answer: HashAnswer) => void; hasher: Hasher }>();
  #nextId = 0;

  /**
   * `createWorker` starts one hash worker (hash-workers.ts's createHashWorker, which the bundler
   * resolves). Without it, or where there are no workers (a browser without workers inside workers,
   * Node in unit tests), the caller's thread hashes, as before.
   */
  constructor(createWorker: (() => Worker) | undefined, size = Math.min(BROWSER_PEER_HASH_WORKERS_MAX, Math.max(1, (typeof navigator === "undefined" ? 1 : navigator.hardwareConcurrency) || 1))) {
    if (createWorker === undefined || typeof Worker === "undefined") return;
    for (let i = 0; i < size; i++) {
      const hasher: Hasher = { worker: createWorker(), busy: 0 };
      hasher.worker.onmessage = (message: MessageEvent<HashAnswer>) => this.#answered(message.data);
      this.#hashers.push(hasher);
    }
  }

  /**
   * The SHA-256 of `bytes` and the piece itself: its buffer is transferred away while it is hashed,
   * so the caller goes on with the answer's `bytes` (the same memory).
   */
  async digest(bytes: Uint8Array<ArrayBuffer>): Promise<{ digest: Uint8Array; bytes: Uint8Array<ArrayBuffer> }> {
    const hasher = this.#hashers.reduce<Hasher | undefined>((best, next) => (best === undefined || next.busy < best.busy ? next : best), undefined);
    if (hasher === undefined) return { digest: new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)), bytes };
    const id = this.#nextId++;
    hasher.busy++;
    const answer = await new Promise<HashAnswer>((resolve) => {
      this.#waiting.set(id, { resolve, hasher });
      hasher.worker.postMessage({ id, bytes } satisfies HashRequest, [bytes.buffer]);
    });
    if (answer.error !== undefined) throw new Error(`hashing a piece failed: ${answer.error}`);
    return { digest: answer.digest, bytes: answer.bytes };
  }

  /** How many pieces are worth having in hand at once: one per hasher and one being read (two without hashers: one read while one is hashed). */
  get lanes(): number {
    return Math.max(2, this.#hashers.length + 1);
  }

  /** Ends the hash workers. */
  destroy(): void {
    for (const { worker } of this.#hashers) worker.terminate();
    this.#hashers.length = 0;
    for (const { resolve } of this.#waiting.values()) resolve({ id: -1, bytes: new Uint8Array(0), error: "the download ended" });
    this.#waiting.clear();
  }

  #answered(answer: HashAnswer): void {
    const waiting = this.#waiting.get(answer.id);
    if (waiting === undefined) return;
    this.#waiting.delete(answer.id);
    waiting.hasher.busy--;
    waiting.resolve(answer);
  }
}
