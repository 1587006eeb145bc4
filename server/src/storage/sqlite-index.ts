// The SQLite store's index tables (files, content_variants, contents and its trigram index) and what
// it keeps of them in memory: the row counts for /metrics and the per-trigram counts the search planner
// reads. Every write goes through here, inside `atomic`, so memory and rows never disagree.

import type Database from "better-sqlite3";
import { FTS_MAX_SEGMENTS, FTS_MERGE_PAGES_PER_SWEEP } from "../constants.js";
import { contentIdBytes, type FileRow } from "./rows.js";
import type { SqliteStatements } from "./sqlite-statements.js";
import type { FileEntry } from "./store.js";
import { TrigramStats } from "./trigram-stats.js";

/** Appended to every indexed name (the triggers' char(1, 1)); names cannot contain control characters. */
const NAME_END = "\u0001\u0001";

interface TermRow {
  term: string;
  doc: number;
}

/** The index tables of one SQLite database, with their in-memory counts. */
export class SqliteIndex {
  readonly #db: Database.Database;
  readonly #sql: SqliteStatements;
  /** Documents per trigram of the indexed names, for the search planner. */
  readonly trigrams = new TrigramStats();
  #indexedFiles: number;
  #contents: number;

  /** Reads the counts and the trigram statistics of the database. */
  constructor(db: Database.Database, sql: SqliteStatements) {
    this.#db = db;
    this.#sql = sql;
    this.#indexedFiles = sql.countFiles.get() as number;
    this.#contents = sql.countContents.get() as number;
    for (const row of sql.allTrigrams.iterate() as Iterable<TermRow>) this.trigrams.load(row.term, row.doc);
  }

  /** Index rows stored (one per peer and content id). */
  get indexedFiles(): number {
    return this.#indexedFiles;
  }

  /** Distinct content ids stored. */
  get contents(): number {
    return this.#contents;
  }

  /** Runs `work` in one transaction; on any error the in-memory counts go back with the rows. */
  atomic<T>(work: () => T): T {
    const before = { indexedFiles: this.#indexedFiles, contents: this.#contents };
    this.trigrams.begin();
    try {
      const result = this.#db.transaction(work)();
      this.trigrams.commit();
      return result;
    } catch (error) {
      this.#indexedFiles = before.indexedFiles;
      this.#contents = before.contents;
      this.trigrams.rollback();
      throw error;
    }
  }

  /** Adds one file to a user's index (its content's row is refreshed by the caller). */
  addHolding(userId: number, entry: FileEntry): void {
    const contentId = contentIdBytes(entry.contentId);
    this.#sql.insertFile.run(userId, contentId, entry.name, entry.size, entry.pieceSize);
    this.#sql.addVariantHolder.run(contentId, entry.name, entry.size, entry.pieceSize);
    this.#indexedFiles += 1;
  }

  /** Removes one file from a user's index (its content's row is refreshed by the caller). */
  removeHolding(userId: number, row: FileRow): void {
    this.#sql.deleteFile.run(userId, row.content_id);
    this.#sql.removeVariantHolder.run(row.content_id, row.name, row.size, row.piece_size);
    this.#sql.deleteEmptyVariant.run(row.content_id, row.name, row.size, row.piece_size);
    this.#indexedFiles -= 1;
  }

  /** Drops a user's whole index; returns the rows removed. Call inside a transaction. */
  dropIndex(userId: number): number {
    const rows = this.#sql.filesOfUser.all(userId) as FileRow[];
    for (const row of rows) this.removeHolding(userId, row);
    for (const row of rows) this.refreshContent(row.content_id);
    return rows.length;
  }

  /** Points a content's row at the variant most holders use, or deletes it when nobody holds it. */
  refreshContent(contentId: Buffer): void {
    const best = this.#sql.bestVariant.get(contentId) as FileRow | undefined;
    const oldKey = this.#sql.contentNameKey.get(contentId) as string | undefined;
    if (!best) {
      if (oldKey !== undefined) {
        this.#sql.deleteContent.run(contentId);
        this.#contents -= 1;
        this.trigrams.removeDocument(oldKey + NAME_END);
      }
      return;
    }
    const nameKey = best.name.toLowerCase();
    const values = { contentId, name: best.name, nameKey, size: best.size, pieceSize: best.piece_size };
    if (oldKey === undefined) {
      this.#sql.insertContent.run(values);
      this.#contents += 1;
      this.trigrams.addDocument(nameKey + NAME_END);
    } else {
      this.#sql.updateContent.run(values);
      if (oldKey !== nameKey) {
        this.trigrams.removeDocument(oldKey + NAME_END);
        this.trigrams.addDocument(nameKey + NAME_END);
      }
    }
  }

  /** Number of FTS5 segments in the trigram index. */
  trigramSegments(): number {
    return this.#sql.countTrigramSegments.get() as number;
  }

  /**
   * Merges some of the trigram index's segments when there are too many: every write adds a small FTS5
   * segment, and each query looks its trigrams up in every segment (16 segments made search ~2x
   * slower at 1M files). Call inside a transaction.
   */
  tidy(): void {
    if (this.trigramSegments() > FTS_MAX_SEGMENTS) this.#sql.mergeTrigramSegments.run(-FTS_MERGE_PAGES_PER_SWEEP);
  }
}
