// The search benchmarks' query mix (bench/run.ts, bench/stores.ts, bench/search-cpu.ts): one definition,
// so that their figures by kind of query compare.

import { type Dataset, seededRandom } from "./dataset.js";

/** One query of the mix: its kind, the HTTP path, and the store call's arguments. */
export interface Query {
  kind: string;
  path: string;
  q?: string;
  offset?: number;
  contentId?: string;
}

/** The benchmarks' query mix, deterministic for a seed: what people type, with weights. */
export function queryMix(dataset: Dataset, seed: number): () => Query {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const search = (kind: string, q: string, offset = 0): Query => ({
    kind,
    path: `/api/v1/search?q=${encodeURIComponent(q)}${offset ? `&offset=${offset}` : ""}`,
    q,
    offset,
  });
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  // Weights: what people type. Words and parts of names most, then typing-as-you-go prefixes,
  // extensions and years, 1-2 characters, misses, a deep page and lookups by content id.
  const kinds: Array<[number, () => Query]> = [
    [30, () => search("word", pick(dataset.vocabulary))],
    [10, () => search("prefix (3-5 chars)", pick(dataset.vocabulary).slice(0, 3 + Math.floor(random() * 3)))],
    [20, () => {
      const name = pick(dataset.catalog).name;
      const start = Math.floor(random() * Math.max(1, name.length - 10));
      return search("part of a name (8-13)", name.slice(start, start + 8 + Math.floor(random() * 6)));
    }],
    [10, () => search("common (ext, year)", pick(["mp3", "flac", ".mkv", "(2019)", "201", " - ", "iso", "epub"]))],
    [10, () => search("1-2 characters", pick([...alphabet]) + (random() < 0.5 ? "" : pick([...alphabet])))],
    [5, () => search("nobody has it", `qz${Math.floor(random() * 1e6)}x`)],
    [5, () => search("page 6 of a word", pick(dataset.vocabulary), 100)],
    [10, () => {
      const { contentId } = pick(dataset.catalog);
      return { kind: "by content id", path: `/api/v1/files/${contentId}`, contentId };
    }],
  ];
  const totalWeight = kinds.reduce((sum, [weight]) => sum + weight, 0);
  return () => {
    let roll = random() * totalWeight;
    for (const [weight, make] of kinds) {
      roll -= weight;
      if (roll < 0) return make();
    }
    return (kinds[0] as [number, () => Query])[1]();
  };
}
