// Large index changes on SQLite, in chunks. better-sqlite3 runs every statement on the event loop, and
// at 1,000,000 index rows one file costs ~100-150 us to add or drop (its row, its holder count, its
// content's row and that row's trigram entries): a first publish of 10,000 files held the loop ~1.4 s,
// a logout of such a peer as long. So a change of many files is a list of steps, applied in
// transactions that each stop after SQLITE_INDEX_CHUNK_MS (plus their commit), with the event loop free
// in between.
//
// What a reader can see between chunks: part of the change (some of the new files listed, some of the
// old ones gone), never a half-applied file: every step is whole in one transaction with its content's
// row, and the in-memory counts move with it (SqliteIndex.atomic). A change of one peer never
// interleaves with another change of the same peer: the store runs them one after another (PeerTurns).

import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { SQLITE_INDEX_CHUNK_MIN_STEPS, SQLITE_INDEX_CHUNK_MS } from "../constants.js";
import type { FileRow } from "./rows.js";
import type { FileEntry } from "./store.js";

/** How large one transaction of a chunked change may grow. */
export interface ChunkBudget {
  /** A transaction stops taking steps after this long (then commits and yields). */
  ms: number;
  /** It takes at least this many steps before looking at the clock, so small changes stay whole. */
  minSteps: number;
}

/** The default budget: see SQLITE_INDEX_CHUNK_MS. */
export const DEFAULT_CHUNK_BUDGET: ChunkBudget = { ms: SQLITE_INDEX_CHUNK_MS, minSteps: SQLITE_INDEX_CHUNK_MIN_STEPS };

/** One file of a peer's index changing: its old row goes, its new entry comes (either may be absent). */
export interface IndexStep {
  /** Content id (hex) both refer to. */
  hex: string;
  /** The row the peer holds now, to remove. */
  remove?: FileRow;
  /** The entry the peer will hold, to add. */
  add?: FileEntry;
}

/**
 * Starts spending a budget: the function returned counts a step taken and says whether another may
 * follow (always for the first `budget.minSteps` steps, then while less than `budget.ms` has passed).
 */
export function spend(budget: ChunkBudget): () => boolean {
  const started = performance.now();
  let steps = 0;
  return () => (steps += 1) < budget.minSteps || performance.now() - started < budget.ms;
}

/**
 * Runs `chunk` again and again, with a fresh budget each time, until it returns something other than
 * undefined; the event loop is free between calls.
 */
export async function inChunks<T>(budget: ChunkBudget, chunk: (more: () => boolean) => T | undefined): Promise<T> {
  for (;;) {
    const result = chunk(spend(budget));
    if (result !== undefined) return result;
    await yieldToEventLoop();
  }
}

/** Runs the changes of one peer one after another (a peer's second PUT waits for its first). */
export class PeerTurns {
  readonly #turns = new Map<number, Promise<void>>();

  /** Runs `work` once every earlier work for `userId` has settled; starts at once when there is none. */
  run<T>(userId: number, work: () => Promise<T>): Promise<T> {
    const previous = this.#turns.get(userId);
    const result = previous ? previous.then(work) : work();
    const turn = result.then(
      () => undefined,
      () => undefined,
    );
    this.#turns.set(userId, turn);
    void turn.then(() => {
      if (this.#turns.get(userId) === turn) this.#turns.delete(userId);
    });
    return result;
  }

  /** Resolves once every work started so far has settled. */
  async idle(): Promise<void> {
    while (this.#turns.size > 0) await Promise.all([...this.#turns.values()]);
  }
}
