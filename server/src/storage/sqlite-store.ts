// The embedded default store: one SQLite file (WAL) in the data directory, through better-sqlite3.
//
// better-sqlite3 is synchronous; every method runs its statements in one transaction and returns a
// settled Promise, which keeps the interface the same as a networked store's. Statements are prepared
// once. "Now" comes from the injected clock, read once per method.

import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import type { Clock } from "../clock.js";
import { systemClock } from "../clock.js";
import {
  FTS_MAX_SEGMENTS,
  FTS_MERGE_PAGES_PER_SWEEP,
  SQLITE_BUSY_TIMEOUT_MS,
  SQLITE_CACHE_KIB,
  SQLITE_CHECKPOINT_INTERVAL_MS,
  SQLITE_MMAP_BYTES,
  SQLITE_WAL_SIZE_LIMIT_BYTES,
} from "../constants.js";
import {
  type ChosenPeerRow,
  type FileRow,
  hexBytes,
  lastEntryPerContent,
  type PeerRow,
  replacementTooLarge,
  sameEntry,
  type SessionRow,
  toPeer,
  toSession,
  toUser,
  type UserRow,
} from "./rows.js";
import { MIGRATIONS } from "./sqlite-schema.js";
import { TrigramStats } from "./trigram-stats.js";
import type {
  ContentRecord,
  DirectoryStore,
  FileEntry,
  IndexChange,
  PeerRecord,
  RedeemRequest,
  RedeemResult,
  SearchOptions,
  SearchPage,
  SessionRecord,
  StoreStats,
  SweepResult,
  UploadTargetRequest,
  UploadTargetResult,
  UserRecord,
} from "./store.js";

/**
 * Up to this many candidate names (from the trigram index: a superset of the matches), search reads
 * them all, in name order, and keeps the real and live matches (exact total). Above it, it walks the
 * name index in order and stops after the page. Measured at 1M files / 415k names: ~2 us per candidate
 * for the first, ~0.2 us per name walked for the second (21 / density names to fill a page): both
 * cost ~2 ms at ~1,000 matches.
 */
const FEW_CANDIDATES = 1_000;
/** Above this many index rows held by expired, unswept peers, search checks every result's holders. */
const DEAD_HOLDINGS_CAP = 20_000;
/** At most this many of a long query's trigrams go into the AND that stands in for the phrase. */
const MAX_AND_TRIGRAMS = 4;
/** Trigrams join the AND until it should return about this many candidates. */
const EXPECTED_CANDIDATES = 200;
/** Queries this long are looked up by their own trigrams; shorter ones by the trigrams they start. */
const TRIGRAM_CHARS = 3;
/** A short query with many matches counts its lower-bound total over its commonest trigram(s) only: cheap, and a subset. */
const SHORT_QUERY_COUNT_TERMS = 1;
/** Appended to every indexed name (the triggers' char(1, 1)); names cannot contain control characters. */
const NAME_END = "\u0001\u0001";

/** One peer to load with SqliteStore.importPeers. */
export interface ImportedPeer {
  /** Username. */
  name: string;
  /** Stored password hash. */
  passwordHash: string;
  /** SHA-256 (hex) of its session token. */
  tokenHash: string;
  /** Advertised pserver address. */
  address: string;
  /** Session time to live. */
  ttlMs: number;
  /** Its index. */
  files: readonly FileEntry[];
}

/**
 * How search will find the names containing a query: not at all, from a short list of candidate
 * rows the trigram index returned (a superset of the matches), or by walking the names in order
 * (`expression` then finds some matches, to count a lower bound of the total).
 */
type MatchPlan =
  | { kind: "none" }
  | { kind: "few"; candidates: number[]; expression: string }
  | { kind: "many"; expression: string };

/** Options of SqliteStore.open. */
export interface SqliteStoreOptions {
  /** Source of "now" for liveness, expiry and every stored timestamp. */
  clock?: Clock;
}

interface PendingRenewal {
  token: Buffer;
  now: number;
  expiresAt: number;
}
interface TermRow {
  term: string;
  doc: number;
}
interface TicketRow {
  content_id: Buffer;
  size: number;
  from_user_id: number;
  target_user_id: number;
  expires_at: number;
  redeemed_at: number | null;
}

/**
 * Checkpoints the WAL from a worker thread with its own connection. SQLite's automatic checkpoint runs
 * inside whichever commit crosses 1,000 WAL pages, fsync included, on the event loop: under heartbeat
 * load that was several times a second, and an fsync here takes 0.2 ms typically but 3-11 ms when the
 * disk is busy, stalling every request. PASSIVE checkpoints never block the main connection.
 */
const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 0");
const checkpoint = () => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch (error) { parentPort.postMessage({ error: String(error) }); }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/** Thrown inside a transaction to roll it back with a result for the caller. */
class Rollback<T> {
  constructor(readonly result: T) {}
}

/** The SQLite implementation of DirectoryStore. */
export class SqliteStore implements DirectoryStore {
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #sql;
  readonly #trigrams = new TrigramStats();
  #checkpointer: Worker | undefined;
  /** Renewals answered but not yet committed, by token hash (a later one replaces an earlier). */
  #renewals = new Map<string, PendingRenewal>();
  #indexedFiles: number;
  #contents: number;

  private constructor(db: Database.Database, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
    this.#sql = prepareStatements(db);
    this.#indexedFiles = this.#sql.countFiles.get() as number;
    this.#contents = this.#sql.countContents.get() as number;
    for (const row of this.#sql.allTrigrams.iterate() as Iterable<TermRow>) this.#trigrams.load(row.term, row.doc);
  }

  /** Opens (creating and migrating if needed) the database file at `path`. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      db.pragma("journal_mode = WAL");
      // NORMAL in WAL mode survives a process crash; only an OS crash or power cut can lose the last commits.
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
      // Search reads index pages all over the file: mapping it saves a read() per page (~20% at 1M files).
      db.pragma(`mmap_size = ${SQLITE_MMAP_BYTES}`);
      db.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
      db.pragma(`journal_size_limit = ${SQLITE_WAL_SIZE_LIMIT_BYTES}`);
      migrate(db);
      const store = new SqliteStore(db, options.clock ?? systemClock);
      if (path !== ":memory:") store.#startCheckpointer(path);
      return store;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  // DirectoryStore's methods follow; their contracts are documented in store.ts.

  async findUser(name: string): Promise<UserRecord | null> {
    const row = this.#sql.findUser.get(name) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async createUser(name: string, passwordHash: string): Promise<UserRecord | null> {
    return this.#createUser(name, passwordHash);
  }

  async openSession(userId: number, tokenHash: string, address: string, ttlMs: number): Promise<SessionRecord> {
    this.#commitRenewals();
    return this.#atomic(() => this.#openSession(userId, tokenHash, address, ttlMs));
  }

  async findLiveSession(tokenHash: string): Promise<SessionRecord | null> {
    this.#commitRenewals();
    const row = this.#sql.liveSessionByToken.get(hexBytes(tokenHash), this.#clock.now()) as SessionRow | undefined;
    return row ? toSession(row) : null;
  }

  /**
   * Heartbeats are the directory's hottest write. Committing each alone costs ~100 us here (a WAL
   * commit, and a checkpoint fsync every ~1,000 pages). So a renewal is decided at once, by reading
   * whether the session is live, and answered; the new expiry is written with every other renewal of
   * the same event-loop turn in one transaction (~6 us each at 10 per transaction). Waiting for that
   * commit before answering made 10 busy clients take turns with the database, leaving the process
   * idle a fifth of the time. A crash between the answer and the commit loses those renewals only:
   * those peers expire a little early, get 401 and log in again.
   */
  async renewSession(tokenHash: string, ttlMs: number): Promise<Date | null> {
    const now = this.#clock.now();
    const token = hexBytes(tokenHash);
    const pending = this.#renewals.get(tokenHash);
    const live = (pending && pending.expiresAt > now) || this.#sql.liveUserIdByToken.get(token, now) !== undefined;
    if (!live) return null;
    // A pending renewal of the same session keeps the earlier arrival time as its liveness check.
    this.#renewals.set(tokenHash, { token, now: pending?.now ?? now, expiresAt: now + ttlMs });
    if (this.#renewals.size === 1) {
      setImmediate(() => {
        try {
          this.#commitRenewals();
        } catch {
          // The database failed (disk full, I/O error): these renewals are lost, those peers will get
          // 401 and log in again, and the next request that touches the database reports the error.
        }
      });
    }
    return new Date(now + ttlMs);
  }

  /**
   * Writes the answered renewals. Every other method calls this first, so nothing the directory reads
   * or writes afterwards misses a renewal it already confirmed.
   */
  #commitRenewals(): void {
    if (this.#renewals.size === 0 || !this.#db.open) return;
    const batch = [...this.#renewals.values()];
    this.#renewals.clear();
    // Liveness is checked again against the time each heartbeat arrived, so a session that was logged
    // out or replaced meanwhile is not brought back.
    this.#db.transaction(() => {
      for (const renewal of batch) this.#sql.renewSession.run(renewal.now, renewal.expiresAt, renewal.token, renewal.now);
    })();
  }

  async closeSession(tokenHash: string): Promise<boolean> {
    this.#commitRenewals();
    const now = this.#clock.now();
    return this.#atomic(() => {
      const userId = this.#sql.liveUserIdByToken.get(hexBytes(tokenHash), now) as number | undefined;
      if (userId === undefined) return false;
      this.#dropIndex(userId);
      this.#sql.deleteSession.run(userId);
      return true;
    });
  }

  async replaceFiles(userId: number, files: readonly FileEntry[], maxFiles: number): Promise<IndexChange> {
    this.#commitRenewals();
    const wanted = lastEntryPerContent(files);
    const tooLarge = replacementTooLarge(wanted, maxFiles);
    if (tooLarge) return tooLarge;
    return this.#changeIndex(userId, () => {
      const touched = new Set<string>();
      for (const row of this.#sql.filesOfUser.all(userId) as FileRow[]) {
        const hex = row.content_id.toString("hex");
        const next = wanted.get(hex);
        if (next && sameEntry(row, next)) {
          wanted.delete(hex);
          continue;
        }
        this.#removeHolding(userId, row);
        touched.add(hex);
      }
      for (const [hex, entry] of wanted) {
        this.#addHolding(userId, entry);
        touched.add(hex);
      }
      return touched;
    }, maxFiles);
  }

  async updateFiles(
    userId: number,
    add: readonly FileEntry[],
    remove: readonly string[],
    maxFiles: number,
  ): Promise<IndexChange> {
    this.#commitRenewals();
    const wanted = lastEntryPerContent(add);
    return this.#changeIndex(userId, () => {
      const touched = new Set<string>();
      for (const hex of remove) {
        const row = this.#sql.fileOfUser.get(userId, hexBytes(hex)) as FileRow | undefined;
        if (!row) continue;
        this.#removeHolding(userId, row);
        touched.add(hex);
      }
      for (const [hex, entry] of wanted) {
        const row = this.#sql.fileOfUser.get(userId, hexBytes(hex)) as FileRow | undefined;
        if (row && sameEntry(row, entry)) continue;
        if (row) this.#removeHolding(userId, row);
        this.#addHolding(userId, entry);
        touched.add(hex);
      }
      return touched;
    }, maxFiles);
  }

  /**
   * Loads many peers (account, live session, index) in one transaction: for seeding benchmarks and
   * imports, where one transaction per peer would spend most of its time committing. Not part of
   * DirectoryStore.
   */
  importPeers(peers: readonly ImportedPeer[]): void {
    this.#commitRenewals();
    this.#atomic(() => {
      for (const peer of peers) {
        const user = this.#createUser(peer.name, peer.passwordHash);
        if (!user) throw new Error(`user ${peer.name} already exists`);
        this.#openSession(user.id, peer.tokenHash, peer.address, peer.ttlMs);
        const wanted = lastEntryPerContent(peer.files);
        for (const entry of wanted.values()) this.#addHolding(user.id, entry);
        for (const hex of wanted.keys()) this.#refreshContent(hexBytes(hex));
      }
    });
  }

  async searchByName(query: string, options: SearchOptions): Promise<SearchPage> {
    this.#commitRenewals();
    const key = query.toLowerCase();
    const now = this.#clock.now();
    const { limit, offset, totalCap } = options;
    const plan = this.#matchPlan(key);
    if (plan.kind === "none") return { results: [], total: 0, totalExact: true, hasMore: false };
    const isLive = this.#liveness(now);
    const page = (rows: FileRow[]) => rows.map((row) => this.#withHolders(row, now, options.maxHolders));
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
    const rows: FileRow[] = [];
    let skipped = 0;
    for (const row of this.#sql.matchesInNameOrder.iterate(key) as Iterable<FileRow>) {
      if (!isLive(row.content_id)) continue;
      if (skipped < offset) skipped += 1;
      else if (rows.push(row) > limit) break;
    }
    const hasMore = rows.length > limit;
    rows.length = Math.min(rows.length, limit);
    if (!hasMore && (rows.length > 0 || offset === 0)) {
      return { results: page(rows), total: offset + rows.length, totalExact: true, hasMore };
    }
    // Counting every match would cost as much as walking to the end, so `total` is a lower bound:
    // the live matches among the first `totalCap` names the trigram index returns, or what the walk saw.
    const sample = this.#sql.firstMatches.all(plan.expression, totalCap, key) as Buffer[];
    const lowerBound = sample.filter((contentId) => isLive(contentId)).length;
    return {
      results: page(rows),
      total: Math.max(lowerBound, offset + rows.length + (hasMore ? 1 : 0)),
      totalExact: false,
      hasMore,
    };
  }

  async findContent(contentId: string, maxHolders: number): Promise<ContentRecord | null> {
    this.#commitRenewals();
    const row = this.#sql.contentById.get(hexBytes(contentId)) as FileRow | undefined;
    if (!row) return null;
    const record = this.#withHolders(row, this.#clock.now(), maxHolders);
    return record.holderCount > 0 ? record : null;
  }

  async listLivePeers(): Promise<PeerRecord[]> {
    this.#commitRenewals();
    return (this.#sql.livePeers.all(this.#clock.now()) as PeerRow[]).map(toPeer);
  }

  async chooseUploadTarget(request: UploadTargetRequest): Promise<UploadTargetResult> {
    this.#commitRenewals();
    const now = this.#clock.now();
    const contentId = hexBytes(request.contentId);
    return this.#db.transaction((): UploadTargetResult => {
      let chosen: ChosenPeerRow | undefined;
      if (request.targetName !== undefined) {
        const target = this.#sql.findUser.get(request.targetName) as UserRow | undefined;
        if (target?.id === request.fromUserId) return { kind: "target-is-caller" };
        chosen = target ? (this.#sql.livePeerById.get(target.id, now) as ChosenPeerRow | undefined) : undefined;
        if (!chosen) return { kind: "target-not-live" };
        if (this.#sql.fileOfUser.get(chosen.id, contentId)) return { kind: "target-holds-content" };
      } else {
        // Peers with an open ticket for this content come last: they are probably receiving it already.
        const eligible = (anyTicket: 0 | 1) =>
          this.#sql.leastRecentlyChosen.get({ from: request.fromUserId, contentId, now, anyTicket }) as ChosenPeerRow | undefined;
        chosen = eligible(0) ?? eligible(1);
        if (!chosen) return { kind: "no-eligible-peer" };
      }
      this.#sql.markChosen.run(chosen.id);
      const expiresAt = now + request.ticketTtlMs;
      this.#sql.insertTicket.run({
        ticketHash: hexBytes(request.ticketHash),
        contentId,
        size: request.size,
        from: request.fromUserId,
        target: chosen.id,
        now,
        expiresAt,
      });
      return { kind: "chosen", peer: toPeer(chosen), expiresAt: new Date(expiresAt) };
    })();
  }

  async redeemTicket(request: RedeemRequest): Promise<RedeemResult> {
    this.#commitRenewals();
    const now = this.#clock.now();
    const ticketHash = hexBytes(request.ticketHash);
    return this.#db.transaction((): RedeemResult => {
      const row = this.#sql.ticketByHash.get(ticketHash) as TicketRow | undefined;
      if (
        !row ||
        row.expires_at <= now ||
        row.target_user_id !== request.userId ||
        row.content_id.toString("hex") !== request.contentId
      ) {
        return { kind: "not-found" };
      }
      if (row.redeemed_at !== null) return { kind: "already-redeemed" };
      this.#sql.redeemTicket.run(now, ticketHash);
      const from = this.#sql.userNameById.get(row.from_user_id) as string;
      return { kind: "redeemed", contentId: request.contentId, size: row.size, from };
    })();
  }

  async sweep(maxSessions: number): Promise<SweepResult> {
    this.#commitRenewals();
    const now = this.#clock.now();
    return this.#atomic((): SweepResult => {
      const expired = this.#sql.expiredSessions.all(now, maxSessions) as number[];
      let files = 0;
      for (const userId of expired) {
        files += this.#dropIndex(userId);
        this.#sql.deleteSession.run(userId);
      }
      const tickets = this.#sql.deleteExpiredTickets.run(now).changes;
      // The last batch also tidies the trigram index: every write adds a small FTS5 segment, and
      // each query looks its trigrams up in every segment (16 segments made search ~2x slower at 1M files).
      if (expired.length < maxSessions) this.#mergeTrigramSegments();
      return { sessions: expired.length, files, tickets };
    });
  }

  /** Merges up to FTS_MERGE_PAGES_PER_SWEEP pages of trigram-index segments when there are too many. */
  #mergeTrigramSegments(): void {
    if ((this.#sql.countTrigramSegments.get() as number) > FTS_MAX_SEGMENTS) {
      this.#sql.mergeTrigramSegments.run(-FTS_MERGE_PAGES_PER_SWEEP);
    }
  }

  /** Number of FTS5 segments in the trigram index (for the benchmark and tests). */
  trigramSegments(): number {
    return this.#sql.countTrigramSegments.get() as number;
  }

  async stats(): Promise<StoreStats> {
    this.#commitRenewals();
    const now = this.#clock.now();
    return {
      users: this.#sql.countUsers.get() as number,
      sessions: this.#sql.countSessions.get() as number,
      livePeers: this.#sql.countLiveSessions.get(now) as number,
      indexedFiles: this.#indexedFiles,
      contents: this.#contents,
    };
  }

  async ping(): Promise<void> {
    this.#commitRenewals();
    this.#sql.ping.get();
  }

  async close(): Promise<void> {
    this.#commitRenewals();
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    if (checkpointer) {
      const exited = new Promise((resolve) => checkpointer.once("exit", resolve));
      // Unreferenced, the worker would let the process exit before it finished its last checkpoint.
      checkpointer.ref();
      checkpointer.postMessage("close");
      await exited;
    }
    if (this.#db.open) this.#db.close();
  }

  #startCheckpointer(path: string): void {
    const worker = new Worker(CHECKPOINTER_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve("better-sqlite3"),
        path,
        intervalMs: SQLITE_CHECKPOINT_INTERVAL_MS,
      },
    });
    worker.unref();
    this.#db.pragma("wal_autocheckpoint = 0");
    // If the worker cannot run, the connection checkpoints by itself again, as SQLite does by default.
    const fallBack = () => {
      if (this.#checkpointer === worker && this.#db.open) this.#db.pragma("wal_autocheckpoint = 1000");
      if (this.#checkpointer === worker) this.#checkpointer = undefined;
    };
    worker.once("error", fallBack);
    worker.once("exit", fallBack);
    this.#checkpointer = worker;
  }

  /**
   * Runs one index change in a transaction: only while the user's session is live (a logout may have
   * landed between the route's authentication and this call), rolled back when the peer would end up
   * with more than `maxFiles`, and with each touched content's representative row refreshed.
   */
  #changeIndex(userId: number, change: () => Set<string>, maxFiles: number): IndexChange {
    try {
      return this.#atomic((): IndexChange => {
        if (!this.#sql.liveSessionOfUser.get(userId, this.#clock.now())) {
          throw new Rollback<IndexChange>({ ok: false, reason: "session-ended" });
        }
        const touched = change();
        const count = this.#sql.countFilesOfUser.get(userId) as number;
        if (count > maxFiles) throw new Rollback<IndexChange>({ ok: false, reason: "too-many-files", count });
        for (const hex of touched) this.#refreshContent(hexBytes(hex));
        return { ok: true, count };
      });
    } catch (error) {
      if (error instanceof Rollback) return error.result as IndexChange;
      throw error;
    }
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
  #matchPlan(key: string): MatchPlan {
    if ([...key].length < TRIGRAM_CHARS) return this.#shortQueryPlan(key);
    const grams = trigramPositions(key)
      .map((gram) => ({ ...gram, count: this.#trigrams.count(gram.gram) }))
      .sort((a, b) => a.count - b.count);
    const rarest = grams[0]?.count ?? 0;
    if (rarest === 0) return { kind: "none" };
    // One trigram: its count is the number of matches (or a little over); no need to ask FTS5 yet.
    if (grams.length === 1 && rarest > FEW_CANDIDATES) return { kind: "many", expression: quoteTerm(key) };
    const expression = this.#selectiveTrigrams(grams)
      .map((gram) => quoteTerm(gram))
      .join(" AND ");
    const candidates = this.#sql.candidates.all(expression, FEW_CANDIDATES + 1) as number[];
    if (candidates.length === 0) return { kind: "none" };
    if (candidates.length <= FEW_CANDIDATES) return { kind: "few", candidates, expression };
    // Common trigrams, yet the query itself may be rare ("(1976) 5"): ask for the phrase. FTS5 stops
    // early when it is common; when it is rare it reads every doclist once (a few ms at worst).
    const phrase = quoteTerm(key);
    const matches = this.#sql.candidates.all(phrase, FEW_CANDIDATES + 1) as number[];
    if (matches.length === 0) return { kind: "none" };
    if (matches.length <= FEW_CANDIDATES) return { kind: "few", candidates: matches, expression: phrase };
    return { kind: "many", expression: phrase };
  }

  /**
   * A test of "has a live holder" for contents, set up once per search. Liveness could be checked per
   * content (an index probe into files and one into sessions, ~5-14 us at 1M files as the pages are cold),
   * but nearly always every holder is live: only peers that expired and were not swept yet are not. So
   * first collect what those hold; only contents in that set need the probe.
   */
  #liveness(now: number): (contentId: Buffer) => boolean {
    const held = this.#sql.contentsOfExpiredSessions.all(now, DEAD_HOLDINGS_CAP + 1) as Buffer[];
    if (held.length === 0) return () => true;
    const probe = (contentId: Buffer) => this.#sql.contentIsLive.get(contentId, now) === 1;
    if (held.length > DEAD_HOLDINGS_CAP) return probe;
    const maybeDead = new Set(held.map((contentId) => contentId.toString("hex")));
    return (contentId) => !maybeDead.has(contentId.toString("hex")) || probe(contentId);
  }

  /**
   * The trigrams to AND for a long query. FTS5 pays for every doclist in an AND, so: the rarest first,
   * then the rarest of those that share no character with the ones taken (overlapping trigrams such as
   * "994" and "94)" come from the same word and filter almost nothing more), until the expected number
   * of candidates (assuming independence) is small.
   */
  #selectiveTrigrams(grams: ReadonlyArray<{ gram: string; at: number; count: number }>): string[] {
    const names = Math.max(1, this.#contents);
    const taken: Array<{ gram: string; at: number }> = [];
    let expected = names;
    for (const gram of grams) {
      if (taken.some((t) => Math.abs(t.at - gram.at) < TRIGRAM_CHARS)) continue;
      taken.push(gram);
      expected *= gram.count / names;
      if (expected <= EXPECTED_CANDIDATES || taken.length === MAX_AND_TRIGRAMS) break;
    }
    if (taken.length === 1 && grams.length > 1) taken.push(grams[1] as { gram: string; at: number });
    return [...new Set(taken.map((t) => t.gram))];
  }

  #shortQueryPlan(key: string): MatchPlan {
    const terms = [...this.#trigrams.startingWith(key)]
      .map((gram) => ({ gram, count: this.#trigrams.count(gram) }))
      .sort((a, b) => b.count - a.count);
    if (terms.length === 0) return { kind: "none" };
    const documents = terms.reduce((sum, term) => sum + term.count, 0);
    if (documents <= FEW_CANDIDATES) {
      const expression = terms.map(({ gram }) => quoteTerm(gram)).join(" OR ");
      return { kind: "few", candidates: this.#sql.candidates.all(expression, FEW_CANDIDATES + 1) as number[], expression };
    }
    // The sum over-counts names with several such trigrams, so "many" may be fewer: correct, only slower.
    const expression = terms
      .slice(0, SHORT_QUERY_COUNT_TERMS)
      .map(({ gram }) => quoteTerm(gram))
      .join(" OR ");
    return { kind: "many", expression };
  }

  /** Runs `work` in one transaction; on any error the in-memory counts go back with the rows. */
  #atomic<T>(work: () => T): T {
    const before = { indexedFiles: this.#indexedFiles, contents: this.#contents };
    this.#trigrams.begin();
    try {
      const result = this.#db.transaction(work)();
      this.#trigrams.commit();
      return result;
    } catch (error) {
      this.#indexedFiles = before.indexedFiles;
      this.#contents = before.contents;
      this.#trigrams.rollback();
      throw error;
    }
  }

  #createUser(name: string, passwordHash: string): UserRecord | null {
    const info = this.#sql.insertUser.run(name, passwordHash, this.#clock.now());
    if (info.changes === 0) return null;
    return { id: Number(info.lastInsertRowid), name, passwordHash };
  }

  /** Opens or replaces a user's session, starting it with an empty index. Call inside a transaction. */
  #openSession(userId: number, tokenHash: string, address: string, ttlMs: number): SessionRecord {
    const now = this.#clock.now();
    this.#dropIndex(userId);
    this.#sql.upsertSession.run({ userId, tokenHash: hexBytes(tokenHash), address, now, expiresAt: now + ttlMs });
    return toSession(this.#sql.sessionByUser.get(userId) as SessionRow);
  }

  #addHolding(userId: number, entry: FileEntry): void {
    const contentId = hexBytes(entry.contentId);
    this.#sql.insertFile.run(userId, contentId, entry.name, entry.size, entry.pieceSize);
    this.#sql.addVariantHolder.run(contentId, entry.name, entry.size, entry.pieceSize);
    this.#indexedFiles += 1;
  }

  #removeHolding(userId: number, row: FileRow): void {
    this.#sql.deleteFile.run(userId, row.content_id);
    this.#sql.removeVariantHolder.run(row.content_id, row.name, row.size, row.piece_size);
    this.#sql.deleteEmptyVariant.run(row.content_id, row.name, row.size, row.piece_size);
    this.#indexedFiles -= 1;
  }

  /** Drops a user's whole index; returns the rows removed. Call inside a transaction. */
  #dropIndex(userId: number): number {
    const rows = this.#sql.filesOfUser.all(userId) as FileRow[];
    for (const row of rows) this.#removeHolding(userId, row);
    for (const row of rows) this.#refreshContent(row.content_id);
    return rows.length;
  }

  /** Points a content's row at the variant most holders use, or deletes it when nobody holds it. */
  #refreshContent(contentId: Buffer): void {
    const best = this.#sql.bestVariant.get(contentId) as FileRow | undefined;
    const oldKey = this.#sql.contentNameKey.get(contentId) as string | undefined;
    if (!best) {
      if (oldKey !== undefined) {
        this.#sql.deleteContent.run(contentId);
        this.#contents -= 1;
        this.#trigrams.removeDocument(oldKey + NAME_END);
      }
      return;
    }
    const nameKey = best.name.toLowerCase();
    const values = { contentId, name: best.name, nameKey, size: best.size, pieceSize: best.piece_size };
    if (oldKey === undefined) {
      this.#sql.insertContent.run(values);
      this.#contents += 1;
      this.#trigrams.addDocument(nameKey + NAME_END);
    } else {
      this.#sql.updateContent.run(values);
      if (oldKey !== nameKey) {
        this.#trigrams.removeDocument(oldKey + NAME_END);
        this.#trigrams.addDocument(nameKey + NAME_END);
      }
    }
  }

  #withHolders(row: FileRow, now: number, maxHolders: number): ContentRecord {
    const holders = this.#sql.liveHolders.all(row.content_id, now) as PeerRow[];
    return {
      contentId: row.content_id.toString("hex"),
      name: row.name,
      size: row.size,
      pieceSize: row.piece_size,
      holders: holders.slice(0, maxHolders).map(toPeer),
      holderCount: holders.length,
    };
  }

}

function migrate(db: Database.Database): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`database schema version ${version} is newer than this directory (${MIGRATIONS.length})`);
  }
  db.transaction(() => {
    for (let i = version; i < MIGRATIONS.length; i += 1) {
      db.exec(MIGRATIONS[i] as string);
      db.pragma(`user_version = ${i + 1}`);
    }
  })();
}

function prepareStatements(db: Database.Database) {
  const get = (sql: string) => db.prepare(sql);
  const value = (sql: string) => db.prepare(sql).pluck();
  return {
    ping: get("SELECT 1 FROM users LIMIT 1"),
    countUsers: value("SELECT count(*) FROM users"),
    countSessions: value("SELECT count(*) FROM sessions"),
    countLiveSessions: value("SELECT count(*) FROM sessions WHERE expires_at > ?"),
    countFiles: value("SELECT count(*) FROM files"),
    countContents: value("SELECT count(*) FROM contents"),

    findUser: get("SELECT id, name, password_hash FROM users WHERE name = ?"),
    userNameById: value("SELECT name FROM users WHERE id = ?"),
    insertUser: get(
      "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
    ),

    upsertSession: get(`
      INSERT INTO sessions (user_id, token_hash, address, created_at, last_seen_at, expires_at)
      VALUES ($userId, $tokenHash, $address, $now, $now, $expiresAt)
      ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, address = excluded.address,
        created_at = excluded.created_at, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at`),
    sessionByUser: get(`
      SELECT s.user_id, u.name, s.address, s.last_seen_at, s.expires_at
      FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.user_id = ?`),
    liveSessionByToken: get(`
      SELECT s.user_id, u.name, s.address, s.last_seen_at, s.expires_at
      FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?`),
    liveUserIdByToken: value("SELECT user_id FROM sessions WHERE token_hash = ? AND expires_at > ?"),
    liveSessionOfUser: value("SELECT 1 FROM sessions WHERE user_id = ? AND expires_at > ?"),
    renewSession: get("UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ? AND expires_at > ?"),
    deleteSession: get("DELETE FROM sessions WHERE user_id = ?"),
    expiredSessions: value("SELECT user_id FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?"),

    filesOfUser: get("SELECT content_id, name, size, piece_size FROM files WHERE user_id = ?"),
    fileOfUser: get("SELECT content_id, name, size, piece_size FROM files WHERE user_id = ? AND content_id = ?"),
    countFilesOfUser: value("SELECT count(*) FROM files WHERE user_id = ?"),
    insertFile: get("INSERT INTO files (user_id, content_id, name, size, piece_size) VALUES (?, ?, ?, ?, ?)"),
    deleteFile: get("DELETE FROM files WHERE user_id = ? AND content_id = ?"),

    addVariantHolder: get(`
      INSERT INTO content_variants (content_id, name, size, piece_size, holders) VALUES (?, ?, ?, ?, 1)
      ON CONFLICT DO UPDATE SET holders = holders + 1`),
    removeVariantHolder: get(`
      UPDATE content_variants SET holders = holders - 1
      WHERE content_id = ? AND name = ? AND size = ? AND piece_size = ?`),
    deleteEmptyVariant: get(`
      DELETE FROM content_variants
      WHERE content_id = ? AND name = ? AND size = ? AND piece_size = ? AND holders <= 0`),
    bestVariant: get(`
      SELECT content_id, name, size, piece_size FROM content_variants WHERE content_id = ?
      ORDER BY holders DESC, name, size, piece_size LIMIT 1`),

    contentNameKey: value("SELECT name_key FROM contents WHERE content_id = ?"),
    insertContent: get(`
      INSERT INTO contents (content_id, name, name_key, size, piece_size)
      VALUES ($contentId, $name, $nameKey, $size, $pieceSize)`),
    // The WHERE keeps unchanged rows (the common case) from rewriting the row and its trigram entry.
    updateContent: get(`
      UPDATE contents SET name = $name, name_key = $nameKey, size = $size, piece_size = $pieceSize
      WHERE content_id = $contentId
        AND (name IS NOT $name OR size IS NOT $size OR piece_size IS NOT $pieceSize)`),
    deleteContent: get("DELETE FROM contents WHERE content_id = ?"),
    contentById: get("SELECT content_id, name, size, piece_size FROM contents WHERE content_id = ?"),

    candidates: value("SELECT rowid FROM contents_fts WHERE contents_fts MATCH ? LIMIT ?"),
    allTrigrams: get("SELECT term, doc FROM contents_fts_terms"),
    countTrigramSegments: value("SELECT count(DISTINCT segid) FROM contents_fts_idx"),
    mergeTrigramSegments: get("INSERT INTO contents_fts (contents_fts, rank) VALUES ('merge', ?)"),
    candidatesInOrder: get(`
      SELECT c.content_id, c.name, c.size, c.piece_size FROM contents c
      WHERE c.id IN (SELECT value FROM json_each(?)) AND instr(c.name_key, ?) > 0
      ORDER BY c.name_key, c.content_id`),
    matchesInNameOrder: get(`
      SELECT c.content_id, c.name, c.size, c.piece_size FROM contents c INDEXED BY contents_by_name
      WHERE instr(c.name_key, ?) > 0 ORDER BY c.name_key, c.content_id`),
    firstMatches: value(`
      SELECT c.content_id FROM contents c
      WHERE c.id IN (SELECT rowid FROM contents_fts WHERE contents_fts MATCH ? LIMIT ?) AND instr(c.name_key, ?) > 0`),
    contentIsLive: value(`
      SELECT EXISTS (SELECT 1 FROM files f JOIN sessions s ON s.user_id = f.user_id
        WHERE f.content_id = ? AND s.expires_at > ?)`),
    contentsOfExpiredSessions: value(`
      SELECT f.content_id FROM sessions s JOIN files f ON f.user_id = s.user_id WHERE s.expires_at <= ? LIMIT ?`),
    liveHolders: get(`
      SELECT u.name, s.address, s.last_seen_at
      FROM files f JOIN sessions s ON s.user_id = f.user_id JOIN users u ON u.id = f.user_id
      WHERE f.content_id = ? AND s.expires_at > ?
      ORDER BY s.last_seen_at DESC, u.name`),

    livePeers: get(`
      SELECT u.name, s.address, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.expires_at > ? ORDER BY u.name`),
    livePeerById: get(`
      SELECT u.id, u.name, s.address, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.user_id = ? AND s.expires_at > ?`),
    // Walks users in round-robin order and stops at the first eligible one (not a sort of all of them).
    leastRecentlyChosen: get(`
      SELECT u.id, u.name, s.address, s.last_seen_at FROM users u INDEXED BY users_by_last_chosen
      JOIN sessions s ON s.user_id = u.id
      WHERE s.expires_at > $now AND u.id != $from
        AND NOT EXISTS (SELECT 1 FROM files f WHERE f.user_id = u.id AND f.content_id = $contentId)
        AND ($anyTicket OR NOT EXISTS (
          SELECT 1 FROM tickets t WHERE t.target_user_id = u.id AND t.content_id = $contentId
            AND t.redeemed_at IS NULL AND t.expires_at > $now))
      ORDER BY u.last_chosen_seq, u.name
      LIMIT 1`),
    markChosen: get(
      "UPDATE users SET last_chosen_seq = (SELECT max(last_chosen_seq) FROM users) + 1 WHERE id = ?",
    ),

    insertTicket: get(`
      INSERT INTO tickets (ticket_hash, content_id, size, from_user_id, target_user_id, created_at, expires_at)
      VALUES ($ticketHash, $contentId, $size, $from, $target, $now, $expiresAt)`),
    ticketByHash: get(`
      SELECT content_id, size, from_user_id, target_user_id, expires_at, redeemed_at
      FROM tickets WHERE ticket_hash = ?`),
    redeemTicket: get("UPDATE tickets SET redeemed_at = ? WHERE ticket_hash = ? AND redeemed_at IS NULL"),
    deleteExpiredTickets: get("DELETE FROM tickets WHERE expires_at <= ?"),
  };
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
