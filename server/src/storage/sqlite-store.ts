// The embedded default store: one SQLite file (WAL) in the data directory, through better-sqlite3.
//
// better-sqlite3 is synchronous; every method runs its statements in one transaction and returns a
// settled Promise, which keeps the interface the same as a networked store's. Statements are prepared
// once (sqlite-statements.ts); search (sqlite-search.ts) and heartbeats (sqlite-leases.ts) have their
// own files. "Now" comes from the injected clock, read once per method.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Clock } from "../clock.js";
import { systemClock } from "../clock.js";
import {
  SQLITE_BUSY_TIMEOUT_MS,
  SQLITE_CACHE_KIB,
  SQLITE_INDEX_DROP_READ_ROWS,
  SQLITE_MMAP_BYTES,
  SQLITE_SEARCH_THREADS,
  SQLITE_WAL_SIZE_LIMIT_BYTES,
} from "../constants.js";
import {
  type ChosenPeerRow,
  type FileRow,
  contentIdBytes,
  contentIdText,
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
import { WalCheckpointer } from "./sqlite-checkpointer.js";
import { type ChunkBudget, DEFAULT_CHUNK_BUDGET, type IndexStep, inChunks, PeerTurns, spend } from "./sqlite-chunks.js";
import { SqliteIndex } from "./sqlite-index.js";
import { SqliteLeases } from "./sqlite-leases.js";
import { MIGRATION_NOTES, MIGRATIONS } from "./sqlite-schema.js";
import { SampledTrigrams } from "./trigram-stats.js";
import { SqliteSearch, withHolders } from "./sqlite-search.js";
import { type SearchRequest, SqliteSearchThreads } from "./sqlite-search-threads.js";
import { prepareStatements, type SqliteStatements } from "./sqlite-statements.js";
import { sqlitePolicyParams, toPushPolicy, type PushPolicyRow } from "./push-policy-sql.js";
import { pushPolicyAccepts } from "@p2p/directory-api";
import type {
  ContentRecord,
  DirectoryStore,
  FileEntry,
  IndexChange,
  PeerRecord,
  PushPolicyRecord,
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

/** Options of SqliteStore.open. */
export interface SqliteStoreOptions {
  /** Source of "now" for liveness, expiry and every stored timestamp. */
  clock?: Clock;
  /** How large one transaction of a large index change may grow (sqlite-chunks.ts); tests make it small. */
  indexChunk?: ChunkBudget;
  /** Told what a migration that dropped data did (a line for the start log). */
  onMigration?: (note: string) => void;
  /** Worker threads that run searches on connections of their own (sqlite-search-threads.ts); 0: none. */
  searchThreads?: number;
}

/** The writers a subclass gets inside one transaction of `load` (bulk loading for benchmarks and tests). */
export interface SqliteLoader {
  /** Registers an account; null when the name is taken. */
  createUser(name: string, passwordHash: string): UserRecord | null;
  /** Opens or replaces the user's session. */
  openSession(userId: number, tokenHash: string, address: string, ttlMs: number): SessionRecord;
  /** Adds files to the user's index, which must hold none of them yet. */
  addFiles(userId: number, files: readonly FileEntry[]): void;
}

interface TicketRow {
  content_id: Buffer;
  size: number;
  from_user_id: number;
  target_user_id: number;
  expires_at: number;
  redeemed_at: number | null;
}

/** The SQLite implementation of DirectoryStore. */
export class SqliteStore implements DirectoryStore {
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #sql: SqliteStatements;
  readonly #index: SqliteIndex;
  readonly #search: SqliteSearch;
  #checkpointer: WalCheckpointer | undefined;
  #searchThreads: SqliteSearchThreads | undefined;
  #chunkBudget: ChunkBudget = DEFAULT_CHUNK_BUDGET;
  /** Index changes (publish, login, logout) of one peer run one after another. */
  readonly #turns = new PeerTurns();
  /** Session renewals and the lease ends remembered for them. */
  readonly #leases: SqliteLeases;

  protected constructor(db: Database.Database, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
    this.#sql = prepareStatements(db);
    this.#leases = new SqliteLeases(db, this.#sql);
    this.#index = new SqliteIndex(db, this.#sql);
    this.#search = new SqliteSearch(this.#sql);
  }

  /** Opens (creating and migrating if needed) the database file at `path`. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    return SqliteStore.openWith(path, options, (db, clock) => new SqliteStore(db, clock));
  }

  /** Like open, for a subclass: `create` builds the store on the opened, migrated database. */
  protected static openWith<T extends SqliteStore>(
    path: string,
    options: SqliteStoreOptions,
    create: (db: Database.Database, clock: Clock) => T,
  ): T {
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
      migrate(db, options.onMigration);
      const store = create(db, options.clock ?? systemClock);
      store.#chunkBudget = options.indexChunk ?? DEFAULT_CHUNK_BUDGET;
      if (path !== ":memory:") store.#checkpointer = new WalCheckpointer(db, path);
      const searchThreads = options.searchThreads ?? SQLITE_SEARCH_THREADS;
      if (path !== ":memory:" && searchThreads > 0) {
        store.#searchThreads = new SqliteSearchThreads(path, searchThreads, (request) => store.#searchHere(request));
      }
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
    // The previous session ends at once (a publish of it stops at its next chunk); its index goes in
    // chunks, then the new session opens, empty.
    this.#endSession(userId);
    return this.#turns.run(userId, async () => {
      await this.#dropInChunks(userId);
      return this.#index.atomic(() => this.#openSession(userId, tokenHash, address, ttlMs));
    });
  }

  async findLiveSession(tokenHash: string): Promise<SessionRecord | null> {
    this.#commitRenewals();
    const row = this.#sql.liveSessionByToken.get(hexBytes(tokenHash), this.#clock.now()) as SessionRow | undefined;
    return row ? toSession(row) : null;
  }

  /** Heartbeats: answered at once and written in batches (sqlite-leases.ts says why). */
  async renewSession(tokenHash: string, ttlMs: number, slackMs = 0): Promise<Date | null> {
    return this.#leases.renew(tokenHash, this.#clock.now(), ttlMs, slackMs);
  }

  /** Writes the answered renewals first: every other method calls this, so none reads around them. */
  #commitRenewals(): void {
    this.#leases.commit();
  }

  async closeSession(tokenHash: string): Promise<boolean> {
    this.#commitRenewals();
    const userId = this.#sql.liveUserIdByToken.get(hexBytes(tokenHash), this.#clock.now()) as number | undefined;
    if (userId === undefined) return false;
    // Ended at once, so its files stop being offered now (and a publish of this peer in progress stops
    // at its next chunk); its index goes in chunks after that, then its row.
    this.#endSession(userId);
    await this.#turns.run(userId, async () => {
      await this.#dropInChunks(userId);
      this.#sql.deleteEndedSession.run(userId, this.#clock.now());
    });
    return true;
  }

  /** Makes the user's session expire now (renewals already answered are written first, so none revives it). */
  #endSession(userId: number): void {
    this.#commitRenewals();
    // Which token was the user's is not known here; logins and logouts are rare next to heartbeats.
    this.#leases.forgetAll();
    const now = this.#clock.now();
    this.#sql.endSession.run(now, userId, now);
  }

  /** Drops the user's whole index in chunks (its session must have ended); returns the rows dropped. */
  async #dropInChunks(userId: number): Promise<number> {
    let dropped = 0;
    return inChunks(this.#chunkBudget, (more) =>
      this.#index.atomic(() => {
        const done = this.#dropSome(userId, more);
        dropped += done.files;
        return done.all ? dropped : undefined;
      }),
    );
  }

  /** Drops the user's index rows while `more()` allows; call inside a transaction. */
  #dropSome(userId: number, more: () => boolean): { files: number; all: boolean } {
    let files = 0;
    for (;;) {
      const rows = this.#sql.firstFilesOfUser.all(userId, SQLITE_INDEX_DROP_READ_ROWS) as FileRow[];
      if (rows.length === 0) return { files, all: true };
      for (const row of rows) {
        this.#index.removeHolding(userId, row);
        this.#index.refreshContent(row.content_id);
        files += 1;
        if (!more()) return { files, all: false };
      }
    }
  }

  async replaceFiles(userId: number, files: readonly FileEntry[], maxFiles: number): Promise<IndexChange> {
    this.#commitRenewals();
    const wanted = lastEntryPerContent(files);
    const tooLarge = replacementTooLarge(wanted, maxFiles);
    if (tooLarge) return tooLarge;
    const count = wanted.size;
    return this.#turns.run(userId, () =>
      this.#changeIndex(userId, maxFiles, () => {
        const steps: IndexStep[] = [];
        for (const row of this.#sql.filesOfUser.all(userId) as FileRow[]) {
          const hex = contentIdText(row.content_id);
          const next = wanted.get(hex);
          wanted.delete(hex);
          if (!next || !sameEntry(row, next)) steps.push({ hex, remove: row, add: next });
        }
        for (const [hex, entry] of wanted) steps.push({ hex, add: entry });
        return { steps, count };
      }),
    );
  }

  async updateFiles(
    userId: number,
    add: readonly FileEntry[],
    remove: readonly string[],
    maxFiles: number,
  ): Promise<IndexChange> {
    this.#commitRenewals();
    const wanted = lastEntryPerContent(add);
    return this.#turns.run(userId, () =>
      this.#changeIndex(userId, maxFiles, () => {
        // Removals first, then additions, as if applied one after another (store.ts).
        const steps = new Map<string, IndexStep>();
        let count = this.#sql.countFilesOfUser.get(userId) as number;
        for (const hex of remove) {
          const row = steps.has(hex) ? undefined : (this.#sql.fileOfUser.get(userId, contentIdBytes(hex)) as FileRow | undefined);
          if (!row) continue;
          steps.set(hex, { hex, remove: row });
          count -= 1;
        }
        for (const [hex, entry] of wanted) {
          const removed = steps.get(hex);
          const row = removed ? undefined : (this.#sql.fileOfUser.get(userId, contentIdBytes(hex)) as FileRow | undefined);
          if (row && sameEntry(row, entry)) continue;
          if (removed) removed.add = entry;
          else steps.set(hex, { hex, remove: row, add: entry });
          if (!row) count += 1;
        }
        return { steps: [...steps.values()], count };
      }),
    );
  }

  async searchByName(query: string, options: SearchOptions): Promise<SearchPage> {
    this.#commitRenewals();
    const key = query.toLowerCase();
    const now = this.#clock.now();
    const threads = this.#searchThreads;
    if (threads && threads.running > 0) {
      const request: SearchRequest = { key, now, options, trigrams: this.#index.trigrams.sampleFor(key), contents: this.#index.contents };
      const answer = threads.search(request);
      if (answer) return answer;
    }
    return this.#search.search(key, now, options, { trigrams: this.#index.trigrams, contents: this.#index.contents });
  }

  /** A search a thread was given and could not answer, on this connection, planned from the counts it carried. */
  #searchHere(request: SearchRequest): SearchPage {
    const trigrams = new SampledTrigrams(request.trigrams);
    return this.#search.search(request.key, request.now, request.options, { trigrams, contents: request.contents });
  }

  async findContent(contentId: string, maxHolders: number): Promise<ContentRecord | null> {
    this.#commitRenewals();
    const row = this.#sql.contentById.get(contentIdBytes(contentId)) as FileRow | undefined;
    if (!row) return null;
    const record = withHolders(this.#sql, row, this.#clock.now(), maxHolders);
    return record.holderCount > 0 ? record : null;
  }

  async listLivePeers(): Promise<PeerRecord[]> {
    this.#commitRenewals();
    return (this.#sql.livePeers.all(this.#clock.now()) as PeerRow[]).map(toPeer);
  }

  async findLivePeerByAddress(address: string): Promise<string | null> {
    this.#commitRenewals();
    return (this.#sql.livePeerByAddress.get(address, this.#clock.now()) as string | undefined) ?? null;
  }

  async deleteUser(userId: number): Promise<number | null> {
    this.#commitRenewals();
    // Its session ends at once; its index goes in chunks (sqlite-chunks.ts), in the peer's turn so that
    // no publish of it interleaves; then the account with what is left, in one transaction.
    this.#endSession(userId);
    return this.#turns.run(userId, async () => {
      const dropped = await this.#dropInChunks(userId);
      return this.#index.atomic(() => {
        const files = dropped + this.#index.dropIndex(userId);
        this.#sql.deleteSession.run(userId);
        // SQLite binds each "?" in order: the statement names the user twice.
        this.#sql.deleteTicketsOfUser.run(userId, userId);
        return this.#sql.deleteUser.run(userId).changes === 0 ? null : files;
      });
    });
  }

  async chooseUploadTarget(request: UploadTargetRequest): Promise<UploadTargetResult> {
    this.#commitRenewals();
    const now = this.#clock.now();
    const contentId = contentIdBytes(request.contentId);
    return this.#db.transaction((): UploadTargetResult => {
      let chosen: ChosenPeerRow | undefined;
      if (request.targetName !== undefined) {
        const target = this.#sql.findUser.get(request.targetName) as UserRow | undefined;
        if (target?.id === request.fromUserId) return { kind: "target-is-caller" };
        chosen = target ? (this.#sql.livePeerById.get(target.id, now) as ChosenPeerRow | undefined) : undefined;
        if (!chosen) return { kind: "target-not-live" };
        if (this.#sql.fileOfUser.get(chosen.id, contentId)) return { kind: "target-holds-content" };
        const row = this.#sql.pushPolicyOfUser.get(chosen.id) as PushPolicyRow | undefined;
        const policy = row ? toPushPolicy(row) : null;
        if (!policy || !pushPolicyAccepts(policy, request.fromName, request.size)) return { kind: "target-refuses", policy };
      } else {
        // Peers with an open ticket for this content come last: they are probably receiving it already.
        const fromKey = request.fromName.toLowerCase();
        const eligible = (anyTicket: 0 | 1) =>
          this.#sql.leastRecentlyChosen.get({ from: request.fromUserId, contentId, now, anyTicket, size: request.size, fromKey }) as
            | ChosenPeerRow
            | undefined;
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

  async setPushPolicy(userId: number, policy: PushPolicyRecord): Promise<void> {
    this.#sql.upsertPushPolicy.run(sqlitePolicyParams(userId, policy));
  }

  async findPushPolicy(userId: number): Promise<PushPolicyRecord | null> {
    const row = this.#sql.pushPolicyOfUser.get(userId) as PushPolicyRow | undefined;
    return row ? toPushPolicy(row) : null;
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
        contentIdText(row.content_id) !== request.contentId
      ) {
        return { kind: "not-found" };
      }
      if (row.redeemed_at !== null) return { kind: "already-redeemed" };
      this.#sql.redeemTicket.run(now, ticketHash);
      const from = this.#sql.userNameById.get(row.from_user_id) as string;
      return { kind: "redeemed", contentId: request.contentId, size: row.size, from };
    })();
  }

  /**
   * Deletes expired sessions and their index rows, within one chunk's budget (sqlite-chunks.ts): a
   * session whose rows did not all fit is left, partly dropped, for the next call. The directory calls
   * again while a call removed anything.
   */
  async sweep(maxSessions: number): Promise<SweepResult> {
    this.#commitRenewals();
    const now = this.#clock.now();
    return this.#index.atomic((): SweepResult => {
      const expired = this.#sql.expiredSessions.all(now, maxSessions) as number[];
      const more = spend(this.#chunkBudget);
      let files = 0;
      let sessions = 0;
      for (const userId of expired) {
        const dropped = this.#dropSome(userId, more);
        files += dropped.files;
        if (!dropped.all) break;
        this.#sql.deleteSession.run(userId);
        sessions += 1;
      }
      const tickets = this.#sql.deleteExpiredTickets.run(now).changes;
      // The last batch also tidies the trigram index.
      if (expired.length < maxSessions && sessions === expired.length) this.#index.tidy();
      return { sessions, files, tickets };
    });
  }

  async stats(): Promise<StoreStats> {
    this.#commitRenewals();
    const now = this.#clock.now();
    return {
      users: this.#sql.countUsers.get() as number,
      sessions: this.#sql.countSessions.get() as number,
      livePeers: this.#sql.countLiveSessions.get(now) as number,
      indexedFiles: this.#index.indexedFiles,
      contents: this.#index.contents,
    };
  }

  async ping(): Promise<void> {
    this.#commitRenewals();
    this.#sql.ping.get();
  }

  async close(): Promise<void> {
    await this.#turns.idle();
    this.#commitRenewals();
    const searchThreads = this.#searchThreads;
    this.#searchThreads = undefined;
    await searchThreads?.stop();
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    await checkpointer?.stop();
    if (this.#db.open) this.#db.close();
  }

  /** The search threads once started (or not: then 0), and how many searches they have answered. */
  protected async searchThreadsReady(): Promise<{ running: number; served: () => number }> {
    const threads = this.#searchThreads;
    const running = (await threads?.ready()) ?? 0;
    return { running, served: () => threads?.served ?? 0 };
  }

  /** Number of FTS5 segments in the trigram index (the sweep merges them when there are too many). */
  protected trigramSegments(): number {
    return this.#index.trigramSegments();
  }

  /**
   * Runs `work` in one transaction with the store's own writers, so the in-memory counts and trigram
   * statistics stay right: for subclasses that load many peers at once (benchmarks, tests), where one
   * transaction per peer would spend most of its time committing.
   */
  protected load(work: (loader: SqliteLoader) => void): void {
    this.#commitRenewals();
    this.#leases.forgetAll();
    this.#index.atomic(() =>
      work({
        createUser: (name, passwordHash) => this.#createUser(name, passwordHash),
        openSession: (userId, tokenHash, address, ttlMs) => this.#openSession(userId, tokenHash, address, ttlMs),
        addFiles: (userId, files) => {
          const wanted = lastEntryPerContent(files);
          for (const entry of wanted.values()) this.#index.addHolding(userId, entry);
          for (const hex of wanted.keys()) this.#index.refreshContent(contentIdBytes(hex));
        },
      }),
    );
  }

  /**
   * Runs one index change of a peer (call in its turn): only while the session that was live at the
   * start stays live (a logout may have landed between the route's authentication and this call, or
   * between two chunks), refused whole when the peer would end up with more than `maxFiles`. `plan`
   * lists the steps and the resulting count; they are applied in chunks (sqlite-chunks.ts), each step
   * with its content's representative row refreshed.
   */
  async #changeIndex(
    userId: number,
    maxFiles: number,
    plan: () => { steps: IndexStep[]; count: number },
  ): Promise<IndexChange> {
    const token = this.#sql.liveTokenOfUser.get(userId, this.#clock.now()) as Buffer | undefined;
    if (!token) return { ok: false, reason: "session-ended" };
    const { steps, count } = plan();
    if (count > maxFiles) return { ok: false, reason: "too-many-files", count };
    let next = 0;
    return inChunks(this.#chunkBudget, (more) =>
      this.#index.atomic((): IndexChange | undefined => {
        if (this.#sql.liveUserIdByToken.get(token, this.#clock.now()) === undefined) return { ok: false, reason: "session-ended" };
        while (next < steps.length) {
          const step = steps[next] as IndexStep;
          if (step.remove) this.#index.removeHolding(userId, step.remove);
          if (step.add) this.#index.addHolding(userId, step.add);
          this.#index.refreshContent(contentIdBytes(step.hex));
          next += 1;
          if (!more()) break;
        }
        return next === steps.length ? { ok: true, count } : undefined;
      }),
    );
  }

  #createUser(name: string, passwordHash: string): UserRecord | null {
    const info = this.#sql.insertUser.run(name, passwordHash, this.#clock.now());
    if (info.changes === 0) return null;
    return { id: Number(info.lastInsertRowid), name, passwordHash };
  }

  /** Opens or replaces a user's session, starting it with an empty index. Call inside a transaction. */
  #openSession(userId: number, tokenHash: string, address: string, ttlMs: number): SessionRecord {
    const now = this.#clock.now();
    this.#index.dropIndex(userId);
    this.#sql.upsertSession.run({ userId, tokenHash: hexBytes(tokenHash), address, now, expiresAt: now + ttlMs });
    return toSession(this.#sql.sessionByUser.get(userId) as SessionRow);
  }
}

function migrate(db: Database.Database, onMigration: ((note: string) => void) | undefined): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`database schema version ${version} is newer than this directory (${MIGRATIONS.length})`);
  }
  const notes: string[] = [];
  db.transaction(() => {
    for (let i = version; i < MIGRATIONS.length; i += 1) {
      const note = version > 0 ? MIGRATION_NOTES[i + 1] : undefined;
      const rows = note === undefined ? 0 : (db.prepare("SELECT count(*) FROM files").pluck().get() as number);
      db.exec(MIGRATIONS[i] as string);
      db.pragma(`user_version = ${i + 1}`);
      if (note !== undefined) notes.push(`schema version ${i + 1}: ${note} (${rows} index rows)`);
    }
  })();
  for (const note of notes) onMigration?.(note);
}
