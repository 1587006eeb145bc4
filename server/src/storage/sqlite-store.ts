// The embedded default store: one SQLite file (WAL) in the data directory, through better-sqlite3.
//
// better-sqlite3 is synchronous; every method runs its statements in one transaction and returns a
// settled Promise, which keeps the interface the same as a networked store's. Statements are prepared
// once (sqlite-statements.ts); search has its own file (sqlite-search.ts). "Now" comes from the
// injected clock, read once per method.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Clock } from "../clock.js";
import { systemClock } from "../clock.js";
import {
  SQLITE_BUSY_TIMEOUT_MS,
  SQLITE_CACHE_KIB,
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
import { WalCheckpointer } from "./sqlite-checkpointer.js";
import { SqliteIndex } from "./sqlite-index.js";
import { MIGRATIONS } from "./sqlite-schema.js";
import { SqliteSearch } from "./sqlite-search.js";
import { prepareStatements, type SqliteStatements } from "./sqlite-statements.js";
import { senderKeys, toPushPolicy, type PushPolicyRow } from "./push-policy-sql.js";
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

interface PendingRenewal {
  token: Buffer;
  now: number;
  expiresAt: number;
}
interface TicketRow {
  content_id: Buffer;
  size: number;
  from_user_id: number;
  target_user_id: number;
  expires_at: number;
  redeemed_at: number | null;
}

/** Thrown inside a transaction to roll it back with a result for the caller. */
class Rollback<T> {
  constructor(readonly result: T) {}
}

/** The SQLite implementation of DirectoryStore. */
export class SqliteStore implements DirectoryStore {
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #sql: SqliteStatements;
  readonly #index: SqliteIndex;
  readonly #search: SqliteSearch;
  #checkpointer: WalCheckpointer | undefined;
  /** Renewals answered but not yet committed, by token hash (a later one replaces an earlier). */
  #renewals = new Map<string, PendingRenewal>();

  protected constructor(db: Database.Database, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
    this.#sql = prepareStatements(db);
    this.#index = new SqliteIndex(db, this.#sql);
    const index = this.#index;
    this.#search = new SqliteSearch(this.#sql, index.trigrams, () => index.contents, (row, now, maxHolders) =>
      this.#withHolders(row, now, maxHolders),
    );
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
      migrate(db);
      const store = create(db, options.clock ?? systemClock);
      if (path !== ":memory:") store.#checkpointer = new WalCheckpointer(db, path);
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
    return this.#index.atomic(() => this.#openSession(userId, tokenHash, address, ttlMs));
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
    return this.#index.atomic(() => {
      const userId = this.#sql.liveUserIdByToken.get(hexBytes(tokenHash), now) as number | undefined;
      if (userId === undefined) return false;
      this.#index.dropIndex(userId);
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
        this.#index.removeHolding(userId, row);
        touched.add(hex);
      }
      for (const [hex, entry] of wanted) {
        this.#index.addHolding(userId, entry);
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
        this.#index.removeHolding(userId, row);
        touched.add(hex);
      }
      for (const [hex, entry] of wanted) {
        const row = this.#sql.fileOfUser.get(userId, hexBytes(hex)) as FileRow | undefined;
        if (row && sameEntry(row, entry)) continue;
        if (row) this.#index.removeHolding(userId, row);
        this.#index.addHolding(userId, entry);
        touched.add(hex);
      }
      return touched;
    }, maxFiles);
  }

  async searchByName(query: string, options: SearchOptions): Promise<SearchPage> {
    this.#commitRenewals();
    return this.#search.search(query.toLowerCase(), this.#clock.now(), options);
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
    this.#sql.upsertPushPolicy.run({
      userId,
      accept: policy.accept,
      senders: JSON.stringify(senderKeys(policy.from)),
      maxFileBytes: policy.maxFileBytes,
      quotaBytes: policy.quotaBytes,
    });
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
    return this.#index.atomic((): SweepResult => {
      const expired = this.#sql.expiredSessions.all(now, maxSessions) as number[];
      let files = 0;
      for (const userId of expired) {
        files += this.#index.dropIndex(userId);
        this.#sql.deleteSession.run(userId);
      }
      const tickets = this.#sql.deleteExpiredTickets.run(now).changes;
      // The last batch also tidies the trigram index.
      if (expired.length < maxSessions) this.#index.tidy();
      return { sessions: expired.length, files, tickets };
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
    this.#commitRenewals();
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    await checkpointer?.stop();
    if (this.#db.open) this.#db.close();
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
    this.#index.atomic(() =>
      work({
        createUser: (name, passwordHash) => this.#createUser(name, passwordHash),
        openSession: (userId, tokenHash, address, ttlMs) => this.#openSession(userId, tokenHash, address, ttlMs),
        addFiles: (userId, files) => {
          const wanted = lastEntryPerContent(files);
          for (const entry of wanted.values()) this.#index.addHolding(userId, entry);
          for (const hex of wanted.keys()) this.#index.refreshContent(hexBytes(hex));
        },
      }),
    );
  }

  /**
   * Runs one index change in a transaction: only while the user's session is live (a logout may have
   * landed between the route's authentication and this call), rolled back when the peer would end up
   * with more than `maxFiles`, and with each touched content's representative row refreshed.
   */
  #changeIndex(userId: number, change: () => Set<string>, maxFiles: number): IndexChange {
    try {
      return this.#index.atomic((): IndexChange => {
        if (!this.#sql.liveSessionOfUser.get(userId, this.#clock.now())) {
          throw new Rollback<IndexChange>({ ok: false, reason: "session-ended" });
        }
        const touched = change();
        const count = this.#sql.countFilesOfUser.get(userId) as number;
        if (count > maxFiles) throw new Rollback<IndexChange>({ ok: false, reason: "too-many-files", count });
        for (const hex of touched) this.#index.refreshContent(hexBytes(hex));
        return { ok: true, count };
      });
    } catch (error) {
      if (error instanceof Rollback) return error.result as IndexChange;
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
    this.#index.dropIndex(userId);
    this.#sql.upsertSession.run({ userId, tokenHash: hexBytes(tokenHash), address, now, expiresAt: now + ttlMs });
    return toSession(this.#sql.sessionByUser.get(userId) as SessionRow);
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
