// Name search on PostgreSQL: which index finds the names containing a query, and the three ways of
// reading one page of them, cheapest first.

import type pg from "pg";
import {
  PG_SEARCH_FEW_CANDIDATES,
  PG_SEARCH_MANY_CANDIDATES_MARGIN,
  PG_SEARCH_MAX_WALK_ROWS,
  PG_SEARCH_WALK_MARGIN,
  PG_SEARCH_WINDOW_ROWS_PER_RESULT,
} from "../constants.js";
import type { PgStatements } from "./pg-statements.js";
import type { ContentRecord, SearchOptions, SearchPage } from "./store.js";

/** Characters pg_trgm counts as part of a word (its default build keeps only alphanumerics). */
const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * Runs on a search connection (read-only, sequential scans off), one statement after another without a
 * transaction. Ways to find the names containing the query, cheapest first:
 * - Walk the first names in name order (an index-only scan), PG_SEARCH_WINDOW_ROWS_PER_RESULT per
 *   result of a page. A query that many names contain fills its page there: that page is the answer, and
 *   `total` a lower bound, the matches in that window (at most `totalCap`).
 * - Otherwise, when the window found some matches, their density says how far a walk would go to fill
 *   the page: if not too far (PG_SEARCH_MAX_WALK_ROWS), or if the GIN probe would find over
 *   PG_SEARCH_FEW_CANDIDATES (so that this walk would follow it), walk (at most PG_SEARCH_WALK_MARGIN
 *   times that far). A page filled there is the answer, `total` the lower bound it proves (one more than the
 *   page's end). This skips the GIN probe below, which reads a heap page per candidate (~900 of them,
 *   ~5 ms, for a query with over 1,000 candidates) only to learn that there are many.
 * - Otherwise read the names that contain it from a GIN index. Up to PG_SEARCH_FEW_CANDIDATES of
 *   them: that is the answer, with the exact total.
 * - Otherwise (many, but sparse) walk all names in order until the page is full, and count the lower
 *   bound among the first `totalCap` names the GIN index returns.
 * Liveness is checked per content only when some session has expired and not been swept yet (else
 * every holder is live, and the walks stay index-only): each statement asks that once, as an InitPlan.
 */
export async function searchNames(
  db: pg.ClientBase,
  statements: PgStatements,
  key: string,
  options: SearchOptions,
  withHolders: (contentIds: readonly Buffer[]) => Promise<ContentRecord[]>,
): Promise<SearchPage> {
  const { limit, offset, totalCap } = options;
  const index = indexCondition(key);
  // Every query below is meant for an index; the connection has sequential scans off (a scan of a
  // million names never is what a search wants).
  const sql = statements.search;
  const pageOf = async (ids: readonly { content_id: Buffer }[]) => withHolders(ids.map((row) => row.content_id));
  const wanted = offset + limit + 1;
  const manyPage = async (ids: readonly Buffer[], lowerBound: number): Promise<SearchPage> => ({
    results: await withHolders(ids.slice(0, limit)),
    total: Math.max(Math.min(lowerBound, totalCap), wanted),
    totalExact: false,
    hasMore: true,
  });

  // Sized by the page, not by how deep it is: a deep page of a sparse query walked 12,100 names (page 6,
  // ~2.6 ms) before its GIN probe; the density of a page-sized window tells the walk's length as well.
  const windowRows = PG_SEARCH_WINDOW_ROWS_PER_RESULT * (limit + 1);
  const first = await db.query<{ n: number; page: Buffer[]; names: number }>(sql.countAndPageInWindow, [key, windowRows, offset, limit + 1]);
  const { n: inWindow, page: windowPage, names } = first.rows[0] ?? { n: 0, page: [], names: 0 };
  if (windowPage.length > limit) return manyPage(windowPage, inWindow);
  // The walk stops at the page's end: it costs the names the density says, the margin only when wrong.
  const expectedWalkRows = inWindow > 0 ? (windowRows * wanted) / inWindow : Infinity;
  // Or, however long the walk: when the density over all names says the probe would find well over
  // PG_SEARCH_FEW_CANDIDATES, it would only say "many", and this same walk would follow it (deep pages).
  const probeSaysMany = (inWindow * names) / windowRows > PG_SEARCH_MANY_CANDIDATES_MARGIN * PG_SEARCH_FEW_CANDIDATES;
  if (expectedWalkRows <= PG_SEARCH_MAX_WALK_ROWS || probeSaysMany) {
    const walkRows = Math.ceil(PG_SEARCH_WALK_MARGIN * expectedWalkRows);
    const walked = await db.query<{ content_id: Buffer }>(sql.pageInWindow, [key, walkRows, offset, limit + 1]);
    if (walked.rows.length > limit) return manyPage(walked.rows.map((row) => row.content_id), wanted);
  }

  const probe = await db.query<{ n: number; all_live: boolean; live: number; page: Buffer[] }>(sql.fewMatches(index.sql), [
    index.value,
    key,
    PG_SEARCH_FEW_CANDIDATES + 1,
    offset,
    limit,
  ]);
  const { n: candidates, all_live: allLive, live, page: fewPage } = probe.rows[0] ?? { n: 0, all_live: true, live: 0, page: [] };
  if (candidates === 0) return { results: [], total: 0, totalExact: true, hasMore: false };
  if (candidates <= PG_SEARCH_FEW_CANDIDATES) {
    return { results: await withHolders(fewPage), total: live, totalExact: true, hasMore: live > offset + limit };
  }
  const walked = await db.query<{ content_id: Buffer }>(sql.pageInNameOrder, [key, offset, limit + 1]);
  const hasMore = walked.rows.length > limit;
  const page = walked.rows.slice(0, limit);
  const results = await pageOf(page);
  if (!hasMore && (page.length > 0 || offset === 0)) {
    return { results, total: offset + page.length, totalExact: true, hasMore };
  }
  // The probe counted the matches up to PG_SEARCH_FEW_CANDIDATES + 1; with every holder live they are
  // the live matches, and the count among the first totalCap is known without asking again (which
  // read the same ~500 rows from the heap a second time: ~2-4 ms of PostgreSQL CPU at 1M rows).
  const lowerBound = allLive
    ? Math.min(candidates, totalCap)
    : ((await db.query<{ n: number }>(sql.countAmongCandidates(index.sql), [index.value, key, totalCap])).rows[0]?.n ?? 0);
  return { results, total: Math.max(lowerBound, offset + page.length + (hasMore ? 1 : 0)), totalExact: false, hasMore };
}

/**
 * The index condition that finds the names containing `key` (lower-cased): the trigram index when
 * pg_trgm can take a trigram from the query, else the 1-2 character substrings index (for a 1- or
 * 2-character query, or one of punctuation). A LIKE pattern pg_trgm takes nothing from would make
 * it read its whole index.
 */
function indexCondition(key: string): { sql: string; value: string | string[] } {
  if (trigramUsable(key)) return { sql: "v.name_key LIKE $1", value: `%${key.replace(/[\\%_]/g, "\\$&")}%` };
  const chars = [...key];
  const grams = chars.length === 1 ? chars : chars.slice(1).map((char, i) => `${chars[i]}${char}`);
  return { sql: "short_grams(v.name_key) @> $1::text[]", value: [...new Set(grams)] };
}

/**
 * Whether pg_trgm extracts a trigram from LIKE '%key%': it splits the pattern into runs of word
 * characters; a run next to a non-word character (inside the pattern) is known to start or end a word
 * and gets pg_trgm's padding (two blanks before, one after); a run yields trigrams when, padded, it
 * is at least three characters long.
 */
function trigramUsable(key: string): boolean {
  const chars = [...key];
  for (let start = 0; start < chars.length; ) {
    if (!WORD_CHAR.test(chars[start] as string)) {
      start += 1;
      continue;
    }
    let end = start;
    while (end < chars.length && WORD_CHAR.test(chars[end] as string)) end += 1;
    const padded = end - start + (start > 0 ? 2 : 0) + (end < chars.length ? 1 : 0);
    if (padded >= 3) return true;
    start = end;
  }
  return false;
}

