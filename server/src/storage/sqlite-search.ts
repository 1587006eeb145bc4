// Name search on SQLite: the plan (how to find the names containing a query, decided from the trigram
// counts kept in memory) and the walk that turns a plan into one page of results with a live holder.

import {
  SQLITE_SEARCH_CANDIDATE_READ_NAMES,
  SQLITE_SEARCH_DEAD_HOLDINGS_CAP,
  SQLITE_SEARCH_EXPECTED_CANDIDATES,
  SQLITE_SEARCH_FEW_CANDIDATES,
  SQLITE_SEARCH_MAX_AND_TRIGRAMS,
  SQLITE_SEARCH_SHORT_QUERY_COUNT_TERMS,
} from "../constants.js";
import { contentIdText, type FileRow, type PeerRow, toPeer } from "./rows.js";
import type { SqliteSearchStatements } from "./sqlite-statements.js";
import type { ContentRecord, SearchOptions, SearchPage } from "./store.js";
import type { TrigramCounts } from "./trigram-stats.js";

/** Queries this long are looked up by their own trigrams; shorter ones by the trigrams they start. */
const TRIGRAM_CHARS = 3;

/**
 * How search will find the names containing a query: not at all, from a short list of candidate
 * rows the trigram index returned (a superset of the matches; `exact` when they are the matches
 * themselves: a phrase, or the trigrams a short query starts), or by walking the names in order
 * (`expression`, always exact there, then finds some matches, to count a lower bound of the total).
 */
export type MatchPlan =
  | { kind: "none" }
  | { kind: "few"; candidates: number[]; expression: string; exact: boolean }
  | { kind: "many"; expression: string };

/**
 * What the planner knows of the index when a search starts: the trigram counts (the store's own, or
 * the sample of them a search thread is handed) and how many contents there are.
 */
export interface PlanStats {
  readonly trigrams: TrigramCounts;
  readonly contents: number;
}

/** A candidate whose name contains the query (sqlite-search.ts sorts these itself). */
interface CandidateMatch {
  readonly id: number;
  readonly nameKey: string;
  /** Whether the name has a character above U+FFFF (then compareUtf8 compares by code points). */
  readonly surrogates: boolean;
  contentId?: Buffer;
}

/** A content row with its live holders at `now`, at most `maxHolders` of them. */
export function withHolders(sql: SqliteSearchStatements, row: FileRow, now: number, maxHolders: number): ContentRecord {
  const holders = sql.liveHolders.all(row.content_id, now) as PeerRow[];
  return {
    contentId: contentIdText(row.content_id),
    name: row.name,
    size: row.size,
    pieceSize: row.piece_size,
    holders: holders.slice(0, maxHolders).map(toPeer),
    holderCount: holders.length,
  };
}

/**
 * Search over the store's statements and trigram counts. Up to SQLITE_SEARCH_FEW_CANDIDATES candidate
 * names (from the trigram index: a superset of the matches), it reads them all, in name order, and
 * keeps the real and live matches (exact total). Above it, it walks the name index in order and stops
 * after the page. Measured at 1M files / 415k names: ~2 us per candidate for the first, ~0.2 us per
 * name walked for the second (21 / density names to fill a page): both cost ~2 ms at ~1,000 matches.
 */
export class SqliteSearch {
  readonly #sql: SqliteSearchStatements;

  /** Search over `sql`: the store's connection, or a search thread's own (sqlite-search-threads.ts). */
  constructor(sql: SqliteSearchStatements) {
    this.#sql = sql;
  }

  /**
   * One page of the contents whose lower-cased name contains `key` and that have a live holder at `now`,
   * planned from `stats`.
   */
  search(key: string, now: number, options: SearchOptions, stats: PlanStats): SearchPage {
    const { limit, offset, totalCap } = options;
    const plan = this.#plan(key, stats);
    if (plan.kind === "none") return { results: [], total: 0, totalExact: true, hasMore: false };
    const maybeDead = this.#liveness(now);
    const isLive = maybeDead ?? (() => true);
    const page = (rows: FileRow[]) => rows.map((row) => withHolders(this.#sql, row, now, options.maxHolders));
    if (plan.kind === "few" && maybeDead === null && plan.exact) {
      // The candidates are the matches and every holder is live: the total is known without reading
      // a row, and the page may be cheaper to find by walking the names in order than by reading and
      // sorting every candidate (a query of ~1,000 matches: ~1 ms against ~3 ms).
      const total = plan.candidates.length;
      const walkNames = ((offset + limit) * Math.max(1, stats.contents)) / total;
      if (walkNames < total * SQLITE_SEARCH_CANDIDATE_READ_NAMES) {
        const rows = this.#walk(key, isLive, offset, limit);
        rows.length = Math.min(rows.length, limit);
        return { results: page(rows), total, totalExact: true, hasMore: total > offset + limit };
      }
    }
    if (plan.kind === "few" && maybeDead === null) {
      // Few names can contain the query and every holder is live: their names only, filtered and sorted
      // here, then the page's rows (1,000 candidates: ~1.5 ms against ~2.7 ms for the statement below,
      // whose cost is mostly a content id Buffer per row).
      const matches = this.#matchesInOrder(plan.candidates, key);
      const rows = matches.slice(offset, offset + limit).map((match) => this.#sql.contentOfRow.get(match.id) as FileRow);
      return { results: page(rows), total: matches.length, totalExact: true, hasMore: matches.length > offset + limit };
    }
    if (plan.kind === "few") {
      // Few names can contain the query: read those in name order, keep the real and live matches.
      const candidates = this.#sql.candidatesInOrder.all(JSON.stringify(plan.candidates), key) as FileRow[];
      const live = candidates.filter((row) => isLive(row.content_id));
      return {
        results: page(live.slice(offset, offset + limit)),
        total: live.length,
        totalExact: true,
        hasMore: live.length > offset + limit,
      };
    }
    // Many do: walk the names in order and stop after the page.
    const rows = this.#walk(key, isLive, offset, limit);
    const hasMore = rows.length > limit;
    rows.length = Math.min(rows.length, limit);
    if (!hasMore && (rows.length > 0 || offset === 0)) {
      return { results: page(rows), total: offset + rows.length, totalExact: true, hasMore };
    }
    // Counting every match would cost as much as walking to the end, so `total` is a lower bound:
    // the live matches among the first `totalCap` names the trigram index returns, or what the walk saw.
    // The expression is exact, so when every holder is live the index alone counts them (~0.3 ms
    // instead of ~1-1.5 ms reading 500 rows at 1M rows).
    const lowerBound =
      maybeDead === null
        ? (this.#sql.countMatches.get(plan.expression, totalCap) as number)
        : (this.#sql.firstMatches.all(plan.expression, totalCap, key) as Buffer[]).filter((contentId) => isLive(contentId)).length;
    return {
      results: page(rows),
      total: Math.max(lowerBound, offset + rows.length + (hasMore ? 1 : 0)),
      totalExact: false,
      hasMore,
    };
  }

  /**
   * The candidate rows whose name contains `key`, in the order of candidatesInOrder (name_key, then
   * content id, both as SQLite's BINARY collation compares them: bytes).
   */
  #matchesInOrder(candidates: readonly number[], key: string): CandidateMatch[] {
    const matches: CandidateMatch[] = [];
    for (const [id, nameKey] of this.#sql.candidateKeys.all(JSON.stringify(candidates)) as Array<[number, string]>) {
      if (nameKey.includes(key)) matches.push({ id, nameKey, surrogates: SURROGATES.test(nameKey) });
    }
    // Content ids break ties of equal names only: read those few.
    const contentId = (match: CandidateMatch) => (match.contentId ??= this.#sql.contentIdOfRow.get(match.id) as Buffer);
    return matches.sort(
      (a, b) => compareUtf8(a.nameKey, b.nameKey, a.surrogates || b.surrogates) || Buffer.compare(contentId(a), contentId(b)),
    );
  }

  /** The live matches of `key` in name order after the first `offset`, up to one more than `limit`. */
  #walk(key: string, isLive: (contentId: Buffer) => boolean, offset: number, limit: number): FileRow[] {
    const rows: FileRow[] = [];
    let skipped = 0;
    for (const row of this.#sql.matchesInNameOrder.iterate(key) as Iterable<FileRow>) {
      if (!isLive(row.content_id)) continue;
      if (skipped < offset) skipped += 1;
      else if (rows.push(row) > limit) break;
    }
    return rows;
  }

  /**
   * Decides how to find the names containing `key` (lower-cased), from the trigram counts.
   *
   * A query of 3+ characters asks FTS5 for the names having its rarest trigrams (instr() then drops
   * those that have them in another order); a trigram no name has proves there is no match. FTS5 pays
   * for every doclist in an AND, so only trigrams about as rare as the rarest join it (" - " is in
   * nearly every name and would filter nothing). A shorter query is the OR of the trigrams it starts:
   * every indexed name ends in two U+0001, so each occurrence of a 1-2 character string starts one.
   */
  #plan(key: string, stats: PlanStats): MatchPlan {
    if ([...key].length < TRIGRAM_CHARS) return this.#shortQueryPlan(key, stats.trigrams);
    const grams = trigramPositions(key)
      .map((gram) => ({ ...gram, count: stats.trigrams.count(gram.gram) }))
      .sort((a, b) => a.count - b.count);
    const rarest = grams[0]?.count ?? 0;
    if (rarest === 0) return { kind: "none" };
    // One trigram: its count is the number of matches (or a little over); no need to ask FTS5 yet.
    if (grams.length === 1 && rarest > SQLITE_SEARCH_FEW_CANDIDATES) return { kind: "many", expression: quoteTerm(key) };
    const expression = selectiveTrigrams(grams, stats.contents)
      .map((gram) => quoteTerm(gram))
      .join(" AND ");
    const candidates = this.#candidates(expression);
    if (candidates.length === 0) return { kind: "none" };
    // One trigram in the AND is the whole query (a 3-character one): its names are the matches.
    const exact = grams.length === 1;
    if (candidates.length <= SQLITE_SEARCH_FEW_CANDIDATES) return { kind: "few", candidates, expression, exact };
    // Common trigrams, yet the query itself may be rare ("(1976) 5"): ask for the phrase. FTS5 stops
    // early when it is common; when it is rare it reads every doclist once (a few ms at worst).
    const phrase = quoteTerm(key);
    const matches = this.#candidates(phrase);
    if (matches.length === 0) return { kind: "none" };
    if (matches.length <= SQLITE_SEARCH_FEW_CANDIDATES) return { kind: "few", candidates: matches, expression: phrase, exact: true };
    return { kind: "many", expression: phrase };
  }

  /** Row ids of up to one more than SQLITE_SEARCH_FEW_CANDIDATES names matching the FTS5 `expression`. */
  #candidates(expression: string): number[] {
    return this.#sql.candidates.all(expression, SQLITE_SEARCH_FEW_CANDIDATES + 1) as number[];
  }

  /**
   * A test of "has a live holder" for contents, set up once per search. Liveness could be checked per
   * content (an index probe into files and one into sessions, ~5-14 us at 1M files as the pages are cold),
   * but nearly always every holder is live: only peers that expired and were not swept yet are not. So
   * first collect what those hold; only contents in that set need the probe. Null: every holder is live.
   */
  #liveness(now: number): ((contentId: Buffer) => boolean) | null {
    const held = this.#sql.contentsOfExpiredSessions.all(now, SQLITE_SEARCH_DEAD_HOLDINGS_CAP + 1) as Buffer[];
    if (held.length === 0) return null;
    const probe = (contentId: Buffer) => this.#sql.contentIsLive.get(contentId, now) === 1;
    if (held.length > SQLITE_SEARCH_DEAD_HOLDINGS_CAP) return probe;
    const maybeDead = new Set(held.map((contentId) => contentId.toString("hex")));
    return (contentId) => !maybeDead.has(contentId.toString("hex")) || probe(contentId);
  }

  #shortQueryPlan(key: string, trigrams: TrigramCounts): MatchPlan {
    const terms = [...trigrams.startingWith(key)]
      .map((gram) => ({ gram, count: trigrams.count(gram) }))
      .sort((a, b) => b.count - a.count);
    if (terms.length === 0) return { kind: "none" };
    const documents = terms.reduce((sum, term) => sum + term.count, 0);
    if (documents <= SQLITE_SEARCH_FEW_CANDIDATES) {
      const expression = terms.map(({ gram }) => quoteTerm(gram)).join(" OR ");
      return { kind: "few", candidates: this.#candidates(expression), expression, exact: true };
    }
    // The sum over-counts names with several such trigrams, so "many" may be fewer: correct, only slower.
    const expression = terms
      .slice(0, SQLITE_SEARCH_SHORT_QUERY_COUNT_TERMS)
      .map(({ gram }) => quoteTerm(gram))
      .join(" OR ");
    return { kind: "many", expression };
  }
}

/**
 * The trigrams to AND for a long query. FTS5 pays for every doclist in an AND, so: the rarest first,
 * then the rarest of those that share no character with the ones taken (overlapping trigrams such as
 * "994" and "94)" come from the same word and filter almost nothing more), until the expected number
 * of candidates (assuming independence) is small.
 */
function selectiveTrigrams(grams: ReadonlyArray<{ gram: string; at: number; count: number }>, contents: number): string[] {
  const names = Math.max(1, contents);
  const taken: Array<{ gram: string; at: number }> = [];
  let expected = names;
  for (const gram of grams) {
    if (taken.some((t) => Math.abs(t.at - gram.at) < TRIGRAM_CHARS)) continue;
    taken.push(gram);
    expected *= gram.count / names;
    if (expected <= SQLITE_SEARCH_EXPECTED_CANDIDATES || taken.length === SQLITE_SEARCH_MAX_AND_TRIGRAMS) break;
  }
  if (taken.length === 1 && grams.length > 1) taken.push(grams[1] as { gram: string; at: number });
  return [...new Set(taken.map((t) => t.gram))];
}

/** UTF-16 code units at and above these, surrogates first, sort in another order than UTF-8 bytes do. */
const SURROGATES = /[\ud800-\udfff]/;

/**
 * `a` against `b` in the order of their UTF-8 bytes (SQLite's BINARY collation). JavaScript compares
 * UTF-16 code units, the same order except where a surrogate (a character above U+FFFF) meets a
 * character of U+E000-U+FFFF: only then is the slower comparison by code points needed.
 */
export function compareUtf8(a: string, b: string, surrogates = SURROGATES.test(a) || SURROGATES.test(b)): number {
  if (a === b) return 0;
  if (!surrogates) return a < b ? -1 : 1;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** A code unit's rank in code point order: surrogates after U+E000-U+FFFF. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  return unit >= 0xe000 ? unit - 0x800 : unit;
}

/** Each trigram of `text` (by code point) with the position of its first character. */
function trigramPositions(text: string): Array<{ gram: string; at: number }> {
  const chars = [...text];
  const grams: Array<{ gram: string; at: number }> = [];
  for (let at = 0; at + TRIGRAM_CHARS <= chars.length; at += 1) {
    grams.push({ gram: chars.slice(at, at + TRIGRAM_CHARS).join(""), at });
  }
  return grams;
}

/** An FTS5 string literal: the text in double quotes, inner quotes doubled. */
function quoteTerm(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}
