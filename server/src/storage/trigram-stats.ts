// How many indexed names contain each trigram: the SQLite store's query planner statistics.
//
// FTS5 evaluates a phrase by walking the doclist of every trigram in it, so a query such as
// "royo - voki" pays for " - " (in nearly every name) even though "roy" alone narrows it to a few
// hundred names. Knowing the counts, search asks FTS5 for the AND of the rarest trigrams (~0.1 ms
// instead of ~2 ms at 128k names, measured) and filters the candidates with instr(). A count of zero
// proves there is no match at all. Counts may over-estimate (FTS5's vocabulary can still count deleted
// rows until a merge), never under-estimate, so the planner can only be slow, never wrong.

/** The distinct trigrams (by code point) of `text`, as the FTS5 trigram tokenizer sees them. */
export function trigramsOf(text: string): Set<string> {
  const chars = [...text];
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i += 1) grams.add(`${chars[i]}${chars[i + 1]}${chars[i + 2]}`);
  return grams;
}

/** What the search planner reads of the trigram counts. */
export interface TrigramCounts {
  /** Documents containing `gram` (0 when none). */
  count(gram: string): number;
  /** Trigrams starting with a 1- or 2-character `prefix`. */
  startingWith(prefix: string): ReadonlySet<string>;
}

/**
 * The counts a plan of one query reads, as plain data for a search thread: [trigram, documents] for
 * every trigram of a query of 3+ characters, or every trigram a shorter query starts.
 */
export type TrigramSample = ReadonlyArray<readonly [string, number]>;

/** A TrigramSample read as counts: exactly what the store's counts answered for the query it was taken for. */
export class SampledTrigrams implements TrigramCounts {
  readonly #counts: Map<string, number>;

  constructor(sample: TrigramSample) {
    this.#counts = new Map(sample);
  }

  count(gram: string): number {
    return this.#counts.get(gram) ?? 0;
  }

  startingWith(prefix: string): ReadonlySet<string> {
    return new Set([...this.#counts.keys()].filter((gram) => gram.startsWith(prefix)));
  }
}

/** Per-trigram document counts with lookup by 1- or 2-character prefix, and undo for rolled-back transactions. */
export class TrigramStats implements TrigramCounts {
  readonly #counts = new Map<string, number>();
  readonly #byPrefix = new Map<string, Set<string>>();
  #undo: Array<[string, number]> | null = null;

  /** Adds `count` documents containing `gram` (used to load FTS5's vocabulary at start). */
  load(gram: string, count: number): void {
    this.#change(gram, count);
  }

  /** Counts a newly indexed document. */
  addDocument(text: string): void {
    for (const gram of trigramsOf(text)) this.#change(gram, 1);
  }

  /** Un-counts a removed document. */
  removeDocument(text: string): void {
    for (const gram of trigramsOf(text)) this.#change(gram, -1);
  }

  /** Documents containing `gram` (0 when none). */
  count(gram: string): number {
    return this.#counts.get(gram) ?? 0;
  }

  /** Trigrams starting with a 1- or 2-character `prefix`. */
  startingWith(prefix: string): ReadonlySet<string> {
    return this.#byPrefix.get(prefix) ?? new Set();
  }

  /** The counts a plan of the lower-cased query `key` reads (sqlite-search.ts), for a search thread. */
  sampleFor(key: string): TrigramSample {
    const grams = [...key].length < 3 ? this.startingWith(key) : trigramsOf(key);
    return [...grams].map((gram) => [gram, this.count(gram)] as const);
  }

  /** Starts recording changes so that rollback() can undo them. */
  begin(): void {
    this.#undo = [];
  }

  /** Keeps the changes made since begin(). */
  commit(): void {
    this.#undo = null;
  }

  /** Undoes the changes made since begin(). */
  rollback(): void {
    const undo = this.#undo ?? [];
    this.#undo = null;
    for (let i = undo.length - 1; i >= 0; i -= 1) {
      const [gram, delta] = undo[i] as [string, number];
      this.#change(gram, -delta);
    }
  }

  #change(gram: string, delta: number): void {
    const before = this.#counts.get(gram) ?? 0;
    const after = before + delta;
    this.#undo?.push([gram, delta]);
    const chars = [...gram];
    const prefixes = [chars[0] ?? "", `${chars[0] ?? ""}${chars[1] ?? ""}`];
    if (after > 0) {
      this.#counts.set(gram, after);
      if (before <= 0) {
        for (const prefix of prefixes) {
          let set = this.#byPrefix.get(prefix);
          if (!set) this.#byPrefix.set(prefix, (set = new Set()));
          set.add(gram);
        }
      }
    } else {
      this.#counts.delete(gram);
      if (before > 0) {
        for (const prefix of prefixes) {
          const set = this.#byPrefix.get(prefix);
          set?.delete(gram);
          if (set?.size === 0) this.#byPrefix.delete(prefix);
        }
      }
    }
  }
}
