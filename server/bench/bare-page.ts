// The page the bare baseline route answers: shaped like a real search page (20 results with a few
// holders each), so that the baseline pays the same serialisation.

import type { SearchResponse } from "@p2p/directory-api";
import { benchContentId } from "./dataset.js";

/** Results on the page, and holders per result. */
const RESULTS = 20;
const HOLDERS = 5;

/** A fixed search page for the bare route. */
export function barePage(): SearchResponse {
  const lastSeenAt = new Date().toISOString();
  return {
    results: Array.from({ length: RESULTS }, (_, i) => ({
      contentId: benchContentId(i),
      name: `velorin matsu - kadrel (2014) ${i}.flac`,
      size: 123_456_789 + i,
      pieceSize: 1 << 20,
      holders: Array.from({ length: HOLDERS }, (_, h) => ({
        name: `peer${String(h).padStart(5, "0")}`,
        address: `http://10.0.${h}.1:7000`,
        lastSeenAt,
      })),
      holderCount: HOLDERS,
    })),
    total: 1234,
    totalExact: false,
    nextOffset: RESULTS,
  };
}
