// A synthetic but plausible shared-file population for the benchmark, generated deterministically.
//
// A catalog of distinct contents with names like "velorin matsu - kadrel (2014).flac"; each peer holds
// a fixed number of them, 30% drawn from a small popular set (so popular contents have dozens of holders
// and grouping by content id matters) and the rest from the whole catalog; 10% of holdings use a
// peer's own variant of the name (lower-cased, or with a track-number prefix).

import { createHash } from "node:crypto";
import { CONTENT_ID_PREFIX } from "@p2p/directory-api";
import type { FileEntry } from "../src/storage/store.js";

const SYLLABLES = ["ka", "ro", "mi", "te", "lu", "sa", "vo", "ne", "di", "ra", "to", "ze", "mo", "li", "fa", "ki",
  "na", "po", "re", "xu", "be", "go", "ha", "ju", "we", "yo", "qu", "el", "an", "or", "is", "um"];
const EXTENSIONS = ["mp3", "flac", "mkv", "mp4", "pdf", "epub", "zip", "iso", "jpg", "ogg"];
const POPULAR_SHARE = 0.3;
const RENAMED_SHARE = 0.1;
const VOCABULARY_SIZE = 4_000;

/**
 * The content id of catalog entry `n`: made up, in the format the directory accepts. (Without the
 * prefix, as before the content-id migration, the stores kept 30-byte ids and every lookup by id in
 * the benchmarks' query mix was a 400: the "failed" column's constant count.)
 */
export function benchContentId(n: number): string {
  return CONTENT_ID_PREFIX + createHash("sha256").update(`content ${n}`).digest("hex");
}

/** A small, fast, seeded PRNG (mulberry32), so every run indexes the same population. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Generated catalog and the per-peer holdings drawn from it. */
export interface Dataset {
  /** Pseudo-words the names are made of. */
  vocabulary: string[];
  /** Catalog entries (index = catalog number). */
  catalog: FileEntry[];
  /** Returns peer `index`'s files. */
  filesOfPeer(index: number): FileEntry[];
}

/** Builds a catalog of `catalogSize` contents, `popularSize` of them popular, and `filesPerPeer` per peer. */
export function buildDataset(catalogSize: number, popularSize: number, filesPerPeer: number): Dataset {
  const random = seededRandom(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const vocabulary = new Set<string>();
  while (vocabulary.size < VOCABULARY_SIZE) {
    const syllables = 2 + Math.floor(random() * 3);
    let word = "";
    for (let i = 0; i < syllables; i += 1) word += pick(SYLLABLES);
    vocabulary.add(word);
  }
  const words = [...vocabulary];
  const catalog: FileEntry[] = [];
  for (let i = 0; i < catalogSize; i += 1) {
    const year = 1960 + Math.floor(random() * 65);
    const name = `${pick(words)} ${pick(words)} - ${pick(words)} (${year}) ${i}.${pick(EXTENSIONS)}`;
    catalog.push({
      name: random() < 0.5 ? name : name[0]?.toUpperCase() + name.slice(1),
      size: 1 + Math.floor(random() * 4_000_000_000),
      contentId: benchContentId(i),
      pieceSize: random() < 0.5 ? 1 << 20 : 1 << 18,
    });
  }
  return {
    vocabulary: words,
    catalog,
    filesOfPeer(index: number): FileEntry[] {
      const peerRandom = seededRandom(1_000_003 * (index + 1));
      const chosen = new Map<number, FileEntry>();
      while (chosen.size < filesPerPeer) {
        const n =
          peerRandom() < POPULAR_SHARE
            ? Math.floor(peerRandom() * Math.min(popularSize, catalogSize))
            : Math.floor(peerRandom() * catalogSize);
        const entry = catalog[n] as FileEntry;
        const renamed = peerRandom() < RENAMED_SHARE;
        chosen.set(n, renamed ? { ...entry, name: `${1 + (index % 20)} ${entry.name.toLowerCase()}` } : entry);
      }
      return [...chosen.values()];
    },
  };
}
