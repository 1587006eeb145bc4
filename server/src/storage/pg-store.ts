// The PostgreSQL store, for several stateless directory instances on one database (layout and the
// reasons for it: pg-schema.ts).
//
// How it keeps store.ts's rules with many writers:
// - "Now" is the database's clock (`now()`, the start of the transaction), so every instance agrees on
//   who is live. Only tests replace it (`testClock`), through a setting read in SQL.
// - Each method is one transaction (or one statement). A transaction PostgreSQL aborts for a deadlock
//   or a serialization failure is retried, so such aborts never reach a caller.
// - A peer's index changes (login, logout, PUT/PATCH, sweep) hold a transaction-scoped advisory lock on
//   that peer, so two instances never interleave changes to one peer's files.
// - A change to holders of some contents first locks their `contents` rows, in one statement, in
//   content-id order, then recomputes them (pg-schema.ts says why): concurrent index changes of the same
//   contents wait for each other but never deadlock, and the name a content is shown by never goes stale.
// - Upload targets: the least recently chosen eligible peer, locked with FOR UPDATE SKIP LOCKED (two
//   instances choosing at once get different peers) and stamped from a sequence. Tickets are rows,
//   redeemed with UPDATE ... WHERE redeemed_at IS NULL: single use whichever instance is asked.
// - Heartbeats commit without waiting for the WAL flush (see renewSession); everything else waits.

import pg from "pg";
import type { Clock } from "../clock.js";
import {
  DEFAULT_DATABASE_SCHEMA,
  PG_CONNECT_TIMEOUT_MS,
  PG_HEARTBEAT_POOL_MAX_CONNECTIONS,
  PG_POOL_MAX_CONNECTIONS,
  PG_RETRY_DELAY_MS,
  PG_SEARCH_FEW_CANDIDATES,
  PG_SEARCH_WINDOW_ROWS_PER_RESULT,
  PG_STATEMENT_TIMEOUT_MS,
  PG_TRANSACTION_ATTEMPTS,
} from "../constants.js";
import { PG_MIGRATIONS } from "./pg-schema.js";
import {
  type ChosenPeerRow,
  type FileRow,
  hexBytes,
  lastEntryPerContent,
  replacementTooLarge,
  sameEntry,
  type SessionRow,
  toPeer,
  toSession,
  toUser,
  type UserRow,
} from "./rows.js";
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
import type { ImportedPeer } from "./sqlite-store.js";

/** Key of the session-level advisory lock held while migrating (any schema: it also covers CREATE EXTENSION). */
const MIGRATION_LOCK_KEY = 0x7032_7064_6972; // "p2pdir"
/** First half of the two-key advisory lock that serializes changes to one peer's index. */
const PEER_LOCK_CLASS = 0x7032_7000;
/** Schema names accepted: plain lower-case identifiers, so they never need quoting rules beyond "...". */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** SQLSTATEs of a transaction PostgreSQL aborted only because of another one: safe to run again. */
const RETRYABLE_SQLSTATES = new Set(["40001", "40P01"]);
/** Characters pg_trgm counts as part of a word (its default build keeps only alphanumerics). */
const WORD_CHAR = /[\p{L}\p{N}]/u;

/** int8 values (counts, sizes, ids) as numbers: every one the directory stores is below 2^53. */
const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

/** Options of PgStore.open. */
export interface PgStoreOptions {
  /** postgres:// or postgresql:// URL of the database. */
  connectionString: string;
  /** Schema holding the directory's tables, created if missing (default "public"). */
  schema?: string;
  /** Connections this instance opens at most. */
  maxConnections?: number;
  /**
   * Tests only: read "now" from this clock instead of the database's. Production never sets it: two
   * instances must share one clock, and the database's is the one they share.
   */
  testClock?: Clock;
  /** Told about connection failures that happen outside any query (e.g. the server restarted). */
  onConnectionError?: (error: Error) => void;
}

type Db = pg.PoolClient;
type Mode = "write" | "read";

interface HolderRow {
  content_id: Buffer;
  holder_name: string;
  address: string;
  last_seen_at: Date;
  holder_count: number;
}
interface PendingRenewal {
  tokenHash: string;
  ttlMs: number;
  resolve: (expiresAt: Date | null) => void;
  reject: (error: unknown) => void;
}
/** A change of one (content, name, size, piece size) holder counter. */
interface VariantDelta {
  contentId: Buffer;
  name: string;
  size: number;
  pieceSize: number;
  delta: number;
}

/** The PostgreSQL implementation of DirectoryStore. */
export class PgStore implements DirectoryStore {
  readonly #pool: pg.Pool;
  /** Connections that commit without waiting for the WAL flush: heartbeats only (see renewSession). */
  readonly #heartbeatPool: pg.Pool;
  readonly #testClock: Clock | undefined;
  readonly #sql: ReturnType<typeof statements>;
  #renewals: PendingRenewal[] = [];
  readonly #renewing = new Set<Promise<void>>();
  #closed = false;

  private constructor(pool: pg.Pool, heartbeatPool: pg.Pool, testClock: Clock | undefined) {
    this.#pool = pool;
    this.#heartbeatPool = heartbeatPool;
    this.#testClock = testClock;
    this.#sql = statements(testClock ? "current_setting('directory.now')::timestamptz" : "now()");
  }

  /** Connects, creates the schema and the pg_trgm extension if missing, and migrates (once, under a lock). */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    const schema = checkSchema(options.schema ?? DEFAULT_DATABASE_SCHEMA);
    const connectionString = withSessionSettings(options.connectionString, schema);
    await migrate(connectionString, schema);
    const poolOf = (url: string, max: number) => {
      const pool = new pg.Pool({
        connectionString: url,
        max,
        connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
        types: PG_TYPES,
        application_name: "p2p-directory",
      });
      // Without a listener, an idle connection's error (a server restart) would crash the process.
      pool.on("error", (error) => options.onConnectionError?.(error));
      return pool;
    };
    return new PgStore(
      poolOf(connectionString, options.maxConnections ?? PG_POOL_MAX_CONNECTIONS),
      poolOf(withSessionSettings(connectionString, undefined, ["-c synchronous_commit=off"]), PG_HEARTBEAT_POOL_MAX_CONNECTIONS),
      options.testClock,
    );
  }

  /** Drops a schema and everything in it (tests and benchmarks work in throwaway schemas). */
  static async dropSchema(connectionString: string, schema: string): Promise<void> {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${quote(checkSchema(schema))} CASCADE`);
    } finally {
      await client.end();
    }
  }

  // DirectoryStore's methods follow; their contracts are documented in store.ts.

  async findUser(name: string): Promise<UserRecord | null> {
    const { rows } = await this.#query<UserRow>(this.#sql.findUser, [name]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async createUser(name: string, passwordHash: string): Promise<UserRecord | null> {
    const { rows } = await this.#query<{ id: number }>(this.#sql.insertUser, [name, passwordHash]);
    const row = rows[0];
    return row ? { id: row.id, name, passwordHash } : null;
  }

  async openSession(userId: number, tokenHash: string, address: string, ttlMs: number): Promise<SessionRecord> {
    return this.#transaction(async (db) => {
      await db.query(this.#sql.lockPeer, [PEER_LOCK_CLASS, userId]);
      await this.#dropIndexes(db, [userId]);
      const { rows } = await db.query<SessionRow>(this.#sql.upsertSession, [userId, hexBytes(tokenHash), address, ttlMs]);
      return toSession(rows[0] as SessionRow);
    });
  }

  async findLiveSession(tokenHash: string): Promise<SessionRecord | null> {
    const { rows } = await this.#query<SessionRow>(this.#sql.liveSessionByToken, [hexBytes(tokenHash)]);
    return rows[0] ? toSession(rows[0]) : null;
  }

  /**
   * Heartbeats are the hottest write. Renewals that arrive in the same event-loop turn go to the
   * database as one UPDATE (one round trip, one commit), on connections with synchronous_commit off:
   * the commit is visible to every instance at once but does not wait for the WAL flush (an fsync of
   * ~1 ms here: waiting for it held heartbeats to ~1,300/s, against ~3,500/s without, in one run of
   * bench/stores.ts at 50,000 rows). A PostgreSQL crash can
   * lose the last fraction of a second of renewals, as the SQLite store's write-behind can: those peers
   * get 401 at their next heartbeat and log in again. Everything else commits synchronously. Each
   * caller is answered after the commit, since another instance may be asked about the session next.
   */
  renewSession(tokenHash: string, ttlMs: number): Promise<Date | null> {
    return new Promise((resolve, reject) => {
      this.#renewals.push({ tokenHash, ttlMs, resolve, reject });
      if (this.#renewals.length === 1) setImmediate(() => this.#commitRenewals());
    });
  }

  #commitRenewals(): void {
    const batch = this.#renewals;
    this.#renewals = [];
    if (batch.length === 0) return;
    const done = (async () => {
      try {
        const { rows } = await this.#retrying(() =>
          this.#query<{ token_hash: Buffer; expires_at: Date }>(
            this.#sql.renewSessions,
            [batch.map((renewal) => hexBytes(renewal.tokenHash)), batch.map((renewal) => renewal.ttlMs)],
            this.#heartbeatPool,
          ),
        );
        const renewed = new Map(rows.map((row) => [row.token_hash.toString("hex"), row.expires_at]));
        for (const renewal of batch) renewal.resolve(renewed.get(renewal.tokenHash) ?? null);
      } catch (error) {
        for (const renewal of batch) renewal.reject(error);
      }
    })();
    this.#renewing.add(done);
    void done.finally(() => this.#renewing.delete(done));
  }

  async closeSession(tokenHash: string): Promise<boolean> {
    return this.#transaction(async (db) => {
      const found = await db.query<{ user_id: number }>(this.#sql.liveUserIdByToken, [hexBytes(tokenHash)]);
      const userId = found.rows[0]?.user_id;
      if (userId === undefined) return false;
      await db.query(this.#sql.lockPeer, [PEER_LOCK_CLASS, userId]);
      // Another instance may have replaced or ended the session while this one waited for the lock.
      const deleted = await db.query(this.#sql.deleteLiveSession, [hexBytes(tokenHash)]);
      if (deleted.rowCount === 0) return false;
      await this.#dropIndexes(db, [userId]);
      return true;
    });
  }

  async replaceFiles(userId: number, files: readonly FileEntry[], maxFiles: number): Promise<IndexChange> {
    const wanted = lastEntryPerContent(files);
    const tooLarge = replacementTooLarge(wanted, maxFiles);
    if (tooLarge) return tooLarge;
    return this.#transaction(async (db): Promise<IndexChange> => {
      if (!(await this.#lockLivePeer(db, userId))) return { ok: false, reason: "session-ended" };
      const { rows } = await db.query<FileRow>(this.#sql.filesOfUser, [userId]);
      const add = new Map(wanted);
      const remove: FileRow[] = [];
      for (const row of rows) {
        const hex = row.content_id.toString("hex");
        const next = add.get(hex);
        if (next && sameEntry(row, next)) add.delete(hex);
        else remove.push(row);
      }
      await this.#writeHoldings(db, userId, remove, [...add.values()]);
      return { ok: true, count: wanted.size };
    });
  }

  async updateFiles(
    userId: number,
    add: readonly FileEntry[],
    remove: readonly string[],
    maxFiles: number,
  ): Promise<IndexChange> {
    const wanted = lastEntryPerContent(add);
    return this.#transaction(async (db): Promise<IndexChange> => {
      if (!(await this.#lockLivePeer(db, userId))) return { ok: false, reason: "session-ended" };
      const named = [...new Set([...remove, ...wanted.keys()])].map(hexBytes);
      const held = await db.query<FileRow>(this.#sql.someFilesOfUser, [userId, named]);
      const byContent = new Map(held.rows.map((row) => [row.content_id.toString("hex"), row]));
      const { rows: counted } = await db.query<{ count: number }>(this.#sql.countFilesOfUser, [userId]);
      // Removals first, then additions, as if applied one after another (store.ts).
      const removed = new Map<string, FileRow>();
      for (const hex of remove) {
        const row = byContent.get(hex);
        if (row) removed.set(hex, row);
      }
      const added: FileEntry[] = [];
      for (const [hex, entry] of wanted) {
        const row = removed.has(hex) ? undefined : byContent.get(hex);
        if (row && sameEntry(row, entry)) continue;
        if (row) removed.set(hex, row);
        added.push(entry);
      }
      const count = (counted[0]?.count ?? 0) - removed.size + added.length;
      if (count > maxFiles) return { ok: false, reason: "too-many-files", count };
      await this.#writeHoldings(db, userId, [...removed.values()], added);
      return { ok: true, count };
    });
  }

  /**
   * Loads many peers (account, live session, index) in one transaction and a handful of statements:
   * for seeding benchmarks and imports. Not part of DirectoryStore; a name already taken fails it all.
   */
  async importPeers(peers: readonly ImportedPeer[]): Promise<void> {
    if (peers.length === 0) return;
    await this.#transaction(async (db) => {
      const users = await db.query<{ id: number; name: string }>(this.#sql.insertUsers, [
        peers.map((peer) => peer.name),
        peers.map((peer) => peer.passwordHash),
      ]);
      if (users.rows.length !== peers.length) throw new Error("importPeers: a user name is already taken");
      const idOf = new Map(users.rows.map((row) => [row.name.toLowerCase(), row.id]));
      const ids = peers.map((peer) => idOf.get(peer.name.toLowerCase()) as number);
      await db.query(this.#sql.insertSessions, [
        ids,
        peers.map((peer) => hexBytes(peer.tokenHash)),
        peers.map((peer) => peer.address),
        peers.map((peer) => peer.ttlMs),
      ]);
      const owners: number[] = [];
      const entries: FileEntry[] = [];
      peers.forEach((peer, i) => {
        for (const entry of lastEntryPerContent(peer.files).values()) {
          owners.push(ids[i] as number);
          entries.push(entry);
        }
      });
      await db.query(this.#sql.insertFilesOfMany, [owners, ...fileColumns(entries)]);
      await this.#applyDeltas(db, entries.map((entry) => ({ ...variantOf(entry), delta: 1 })));
    });
  }

  /**
   * Three ways to find the names containing the query, cheapest first:
   * - Walk the first names in name order (an index-only scan). A query that many names contain fills
   *   its page there: that page is the answer, and `total` a lower bound, the matches among as many
   *   names again per match counted (up to `totalCap` of them: a bounded walk however the matches
   *   are spread).
   * - Otherwise read the names that contain it from a GIN index. Up to PG_SEARCH_FEW_CANDIDATES of
   *   them: that is the answer, with the exact total.
   * - Otherwise (many, but sparse) walk all names in order until the page is full, and count the lower
   *   bound among the first `totalCap` names the GIN index returns.
   * Liveness is checked per content only when some session has expired and not been swept yet (else
   * every holder is live), which keeps the walks index-only.
   */
  async searchByName(query: string, options: SearchOptions): Promise<SearchPage> {
    const key = query.toLowerCase();
    const { limit, offset, totalCap, maxHolders } = options;
    const index = indexCondition(key);
    return this.#transaction(async (db): Promise<SearchPage> => {
      // Every query below is meant for an index; a sequential scan of a million names never is.
      await db.query("SET LOCAL enable_seqscan = off");
      const dead = await db.query<{ any: boolean }>(this.#sql.anyExpiredSession);
      const sql = dead.rows[0]?.any ? this.#sql.search.checkingLiveness : this.#sql.search.allLive;
      const pageOf = async (ids: readonly { content_id: Buffer }[]) => this.#withHolders(db, ids.map((row) => row.content_id), maxHolders);

      const windowRows = PG_SEARCH_WINDOW_ROWS_PER_RESULT * (offset + limit + 1);
      const first = await db.query<{ content_id: Buffer }>(sql.pageInWindow, [key, windowRows, offset, limit + 1]);
      if (first.rows.length > limit) {
        const counted = await db.query<{ n: number }>(sql.countInNameOrder, [key, totalCap, PG_SEARCH_WINDOW_ROWS_PER_RESULT * totalCap]);
        return {
          results: await pageOf(first.rows.slice(0, limit)),
          total: Math.max(counted.rows[0]?.n ?? 0, offset + limit + 1),
          totalExact: false,
          hasMore: true,
        };
      }

      const probe = await db.query<{ n: number; matches: Buffer[] }>(sql.fewMatches(index.sql), [
        index.value,
        key,
        PG_SEARCH_FEW_CANDIDATES + 1,
      ]);
      const { n: candidates, matches } = probe.rows[0] ?? { n: 0, matches: [] };
      if (candidates === 0) return { results: [], total: 0, totalExact: true, hasMore: false };
      if (candidates <= PG_SEARCH_FEW_CANDIDATES) {
        return {
          results: await this.#withHolders(db, matches.slice(offset, offset + limit), maxHolders),
          total: matches.length,
          totalExact: true,
          hasMore: matches.length > offset + limit,
        };
      }
      const walked = await db.query<{ content_id: Buffer }>(sql.pageInNameOrder, [key, offset, limit + 1]);
      const hasMore = walked.rows.length > limit;
      const page = walked.rows.slice(0, limit);
      const results = await pageOf(page);
      if (!hasMore && (page.length > 0 || offset === 0)) {
        return { results, total: offset + page.length, totalExact: true, hasMore };
      }
      const counted = await db.query<{ n: number }>(sql.countAmongCandidates(index.sql), [index.value, key, totalCap]);
      const lowerBound = counted.rows[0]?.n ?? 0;
      return { results, total: Math.max(lowerBound, offset + page.length + (hasMore ? 1 : 0)), totalExact: false, hasMore };
    }, "read");
  }

  async findContent(contentId: string, maxHolders: number): Promise<ContentRecord | null> {
    const { rows } = await this.#query<FileRow & HolderRow>(this.#sql.contentsWithHolders, [[hexBytes(contentId)], maxHolders]);
    const [content] = groupHolders(rows);
    return content && content.holderCount > 0 ? content : null;
  }

  async listLivePeers(): Promise<PeerRecord[]> {
    const { rows } = await this.#query<ChosenPeerRow>(this.#sql.livePeers, []);
    return rows.map(toPeer);
  }

  async chooseUploadTarget(request: UploadTargetRequest): Promise<UploadTargetResult> {
    const contentId = hexBytes(request.contentId);
    return this.#transaction(async (db): Promise<UploadTargetResult> => {
      let chosen: ChosenPeerRow | undefined;
      if (request.targetName !== undefined) {
        const target = (await db.query<{ id: number }>(this.#sql.findUser, [request.targetName])).rows[0];
        if (target?.id === request.fromUserId) return { kind: "target-is-caller" };
        chosen = target ? (await db.query<ChosenPeerRow>(this.#sql.livePeerById, [target.id])).rows[0] : undefined;
        if (!chosen) return { kind: "target-not-live" };
        if ((await db.query(this.#sql.fileOfUser, [chosen.id, contentId])).rowCount) return { kind: "target-holds-content" };
      } else {
        // Peers with an open ticket for this content come last: they are probably receiving it already.
        // Peers another instance is choosing right now are skipped first, waited for only if nobody else is left.
        for (const [anyTicket, skipLocked] of [[false, true], [true, true], [false, false], [true, false]] as const) {
          const sql = skipLocked ? this.#sql.leastRecentlyChosenSkipLocked : this.#sql.leastRecentlyChosen;
          chosen = (await db.query<ChosenPeerRow>(sql, [request.fromUserId, contentId, anyTicket])).rows[0];
          if (chosen) break;
        }
        if (!chosen) return { kind: "no-eligible-peer" };
      }
      await db.query(this.#sql.markChosen, [chosen.id]);
      const { rows } = await db.query<{ expires_at: Date }>(this.#sql.insertTicket, [
        hexBytes(request.ticketHash),
        contentId,
        request.size,
        request.fromUserId,
        chosen.id,
        request.ticketTtlMs,
      ]);
      return { kind: "chosen", peer: toPeer(chosen), expiresAt: (rows[0] as { expires_at: Date }).expires_at };
    });
  }

  async redeemTicket(request: RedeemRequest): Promise<RedeemResult> {
    const values = [hexBytes(request.ticketHash), request.userId, hexBytes(request.contentId)];
    return this.#transaction(async (db): Promise<RedeemResult> => {
      const redeemed = (await db.query<{ size: number; from_name: string }>(this.#sql.redeemTicket, values)).rows[0];
      if (redeemed) return { kind: "redeemed", contentId: request.contentId, size: redeemed.size, from: redeemed.from_name };
      // A new statement sees what committed meanwhile: a concurrent redeem that won is "already redeemed".
      const used = await db.query(this.#sql.redeemedTicket, values);
      return used.rowCount ? { kind: "already-redeemed" } : { kind: "not-found" };
    });
  }

  async sweep(maxSessions: number): Promise<SweepResult> {
    return this.#transaction(async (db): Promise<SweepResult> => {
      const expired = await db.query<{ user_id: number }>(this.#sql.expiredSessions, [maxSessions]);
      // Peers another instance is changing (or sweeping) right now are left for the next sweep.
      const locked = await db.query<{ user_id: number }>(this.#sql.tryLockPeers, [
        PEER_LOCK_CLASS,
        expired.rows.map((row) => row.user_id),
      ]);
      const deleted = await db.query<{ user_id: number }>(this.#sql.deleteExpiredSessions, [locked.rows.map((row) => row.user_id)]);
      const userIds = deleted.rows.map((row) => row.user_id);
      const files = userIds.length > 0 ? await this.#dropIndexes(db, userIds) : 0;
      const tickets = (await db.query(this.#sql.deleteExpiredTickets)).rowCount ?? 0;
      return { sessions: userIds.length, files, tickets };
    });
  }

  async stats(): Promise<StoreStats> {
    const { rows } = await this.#query<StoreStats>(this.#sql.stats, []);
    return rows[0] as StoreStats;
  }

  async ping(): Promise<void> {
    await this.#pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#commitRenewals();
    await Promise.allSettled([...this.#renewing]);
    await Promise.all([this.#pool.end(), this.#heartbeatPool.end()]);
  }

  /** Takes the peer's lock; false (and nothing locked) when its session is not live. */
  async #lockLivePeer(db: Db, userId: number): Promise<boolean> {
    await db.query(this.#sql.lockPeer, [PEER_LOCK_CLASS, userId]);
    return ((await db.query(this.#sql.liveSessionOfUser, [userId])).rowCount ?? 0) > 0;
  }

  /** Deletes and inserts one peer's index rows and moves the holder counters with them. Hold the peer's lock. */
  async #writeHoldings(db: Db, userId: number, remove: readonly FileRow[], add: readonly FileEntry[]): Promise<void> {
    if (remove.length > 0) await db.query(this.#sql.deleteFiles, [userId, remove.map((row) => row.content_id)]);
    if (add.length > 0) await db.query(this.#sql.insertFiles, [userId, ...fileColumns(add)]);
    await this.#applyDeltas(db, [
      ...remove.map((row) => ({ contentId: row.content_id, name: row.name, size: row.size, pieceSize: row.piece_size, delta: -1 })),
      ...add.map((entry) => ({ ...variantOf(entry), delta: 1 })),
    ]);
  }

  /** Deletes the peers' whole indexes with their holder counts; returns the rows deleted. Hold their locks. */
  async #dropIndexes(db: Db, userIds: readonly number[]): Promise<number> {
    const { rows } = await db.query<FileRow & { holders: number }>(this.#sql.deleteFilesOfUsers, [userIds]);
    await this.#applyDeltas(
      db,
      rows.map((row) => ({ contentId: row.content_id, name: row.name, size: row.size, pieceSize: row.piece_size, delta: -row.holders })),
    );
    return rows.reduce((sum, row) => sum + row.holders, 0);
  }

  /**
   * Applies holder-count changes: locks (creating if needed) the `contents` row of every content
   * touched, in content-id order, in one statement; then moves the counters, deletes those that
   * reached zero, and points each content at the variant most holders now use (or deletes it). The
   * last step is a statement of its own, so its snapshot sees every change committed by transactions
   * that held those rows before.
   */
  async #applyDeltas(db: Db, deltas: readonly VariantDelta[]): Promise<void> {
    const merged = new Map<string, VariantDelta>();
    for (const change of deltas) {
      const key = `${change.contentId.toString("hex")}\u0000${change.name}\u0000${change.size}\u0000${change.pieceSize}`;
      const known = merged.get(key);
      if (known) known.delta += change.delta;
      else merged.set(key, { ...change });
    }
    const changes = [...merged.values()].filter((change) => change.delta !== 0);
    if (changes.length === 0) return;
    // One row per content: its placeholder values are used only if the row is new, and replaced below.
    const contents = new Map(changes.map((change) => [change.contentId.toString("hex"), change]));
    const touched = [...contents.values()];
    await db.query(this.#sql.lockContents, [
      touched.map((change) => change.contentId),
      touched.map((change) => change.name),
      touched.map((change) => change.name.toLowerCase()),
      touched.map((change) => change.size),
      touched.map((change) => change.pieceSize),
    ]);
    const { rows } = await db.query<FileRow & { holders: number }>(this.#sql.addHolders, [
      changes.map((change) => change.contentId),
      changes.map((change) => change.name),
      changes.map((change) => change.size),
      changes.map((change) => change.pieceSize),
      changes.map((change) => change.name.toLowerCase()),
      changes.map((change) => change.delta),
    ]);
    const empty = rows.filter((row) => row.holders <= 0);
    if (empty.length > 0) {
      await db.query(this.#sql.deleteEmptyVariants, [
        empty.map((row) => row.content_id),
        empty.map((row) => row.name),
        empty.map((row) => row.size),
        empty.map((row) => row.piece_size),
      ]);
    }
    await db.query(this.#sql.refreshContents, [touched.map((change) => change.contentId)]);
  }

  /** The contents of a search page, in the given order, each with its live holders (one query). */
  async #withHolders(db: Db, contentIds: readonly Buffer[], maxHolders: number): Promise<ContentRecord[]> {
    if (contentIds.length === 0) return [];
    const { rows } = await db.query<FileRow & HolderRow>(this.#sql.contentsWithHolders, [contentIds, maxHolders]);
    return groupHolders(rows);
  }

  /** One statement outside a transaction (with the test clock set first, in tests). */
  async #query<R extends pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values: unknown[],
    pool: pg.Pool = this.#pool,
  ): Promise<pg.QueryResult<R>> {
    const config = typeof text === "string" ? { text, values } : { ...text, values };
    if (!this.#testClock) return pool.query<R>(config);
    const db = await pool.connect();
    try {
      await db.query("SELECT set_config('directory.now', $1, false)", [new Date(this.#testClock.now()).toISOString()]);
      return await db.query<R>(config);
    } finally {
      db.release();
    }
  }

  /** Runs `work` in one transaction, again when PostgreSQL aborted it for a deadlock or serialization failure. */
  async #transaction<T>(work: (db: Db) => Promise<T>, mode: Mode = "write"): Promise<T> {
    return this.#retrying(async () => {
      const db = await this.#pool.connect();
      let broken: Error | undefined;
      try {
        await db.query(mode === "read" ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
        if (this.#testClock) {
          await db.query("SELECT set_config('directory.now', $1, true)", [new Date(this.#testClock.now()).toISOString()]);
        }
        const result = await work(db);
        await db.query("COMMIT");
        return result;
      } catch (error) {
        await db.query("ROLLBACK").catch((rollbackError: unknown) => {
          broken = rollbackError as Error;
        });
        throw error;
      } finally {
        // A connection that cannot even roll back is dropped from the pool, not handed out again.
        db.release(broken);
      }
    });
  }

  async #retrying<T>(attempt: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries += 1) {
      try {
        return await attempt();
      } catch (error) {
        if (tries >= PG_TRANSACTION_ATTEMPTS || !RETRYABLE_SQLSTATES.has((error as { code?: string }).code ?? "")) throw error;
        await new Promise((resolve) => setTimeout(resolve, PG_RETRY_DELAY_MS * tries * (1 + Math.random())));
      }
    }
  }
}

/** Why a PostgreSQL server cannot be used at `connectionString`, or undefined when it answers a query. */
export async function probePostgres(connectionString: string, timeoutMs: number): Promise<string | undefined> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    const code = (error as { code?: string }).code;
    return `${(error as Error).message || code || String(error)}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL a log line may show: no password. */
export function redactConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(an unparseable URL)";
  }
}

/** Creates the schema and pg_trgm if missing, then applies pending migrations, all under one advisory lock. */
async function migrate(connectionString: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    // Session-level and blocking: a second instance starting at the same time waits here, then finds
    // everything migrated. One key for every schema, because CREATE EXTENSION is database-wide.
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quote(schema)}`);
    const trigramSchema = await ensureTrigramExtension(client);
    await client.query(`SET search_path TO ${quote(schema)}`);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const { rows } = await client.query<{ version: number }>("SELECT coalesce(max(version), 0)::int AS version FROM schema_migrations");
    const version = rows[0]?.version ?? 0;
    if (version > PG_MIGRATIONS.length) {
      throw new Error(`database schema "${schema}" is at version ${version}, newer than this directory (${PG_MIGRATIONS.length})`);
    }
    for (let i = version; i < PG_MIGRATIONS.length; i += 1) {
      await client.query("BEGIN");
      try {
        await client.query((PG_MIGRATIONS[i] as string).replaceAll("{{trgm}}", quote(trigramSchema)));
        await client.query("INSERT INTO schema_migrations (version) VALUES ($1)", [i + 1]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
    }
  } finally {
    await client.end();
  }
}

/** The schema pg_trgm lives in, creating the extension (in public) when it is missing. */
async function ensureTrigramExtension(client: pg.Client): Promise<string> {
  const find = () =>
    client.query<{ nspname: string }>(
      "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
    );
  let found = (await find()).rows[0];
  if (!found) {
    try {
      await client.query("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public");
    } catch (error) {
      throw new Error(
        `the PostgreSQL extension pg_trgm is not installed and could not be created (${(error as Error).message}): ` +
          "run CREATE EXTENSION pg_trgm in this database as a user allowed to",
        { cause: error },
      );
    }
    found = (await find()).rows[0];
  }
  return (found as { nspname: string }).nspname;
}

/** The URL with this store's session settings (or `extra` ones) added to any `options` it already has. */
function withSessionSettings(connectionString: string, schema: string | undefined, extra: readonly string[] = []): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new Error("the database URL is not a valid URL (postgres://user@host:port/database)");
  }
  const settings = [
    ...(schema === undefined
      ? []
      : [
          `-c search_path=${schema}`,
          `-c statement_timeout=${PG_STATEMENT_TIMEOUT_MS}`,
          // Compiling a plan costs 10-50 ms and only pays off for analytic queries, which the directory has none of.
          "-c jit=off",
        ]),
    ...extra,
  ].join(" ");
  const existing = url.searchParams.get("options");
  url.searchParams.set("options", existing ? `${existing} ${settings}` : settings);
  return url.toString();
}

function checkSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`database schema "${schema}" must be 1-63 characters of a-z, 0-9 and _, not starting with a digit`);
  }
  return schema;
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
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

/** Every statement, with `now` the SQL expression of the store's clock. */
function statements(now: string) {
  const liveHolder = `EXISTS (SELECT 1 FROM files f JOIN sessions s ON s.user_id = f.user_id
    WHERE f.content_id = v.content_id AND s.expires_at > ${now})`;
  const peerOf = (lock: string) => `
    SELECT u.id, u.name, s.address, s.last_seen_at FROM users u JOIN sessions s ON s.user_id = u.id
    WHERE s.expires_at > ${now} AND u.id <> $1
      AND NOT EXISTS (SELECT 1 FROM files f WHERE f.user_id = u.id AND f.content_id = $2)
      AND ($3 OR NOT EXISTS (SELECT 1 FROM tickets t WHERE t.target_user_id = u.id AND t.content_id = $2
        AND t.redeemed_at IS NULL AND t.expires_at > ${now}))
    ORDER BY u.last_chosen_seq, u.name
    LIMIT 1
    FOR UPDATE OF u ${lock}`;
  return {
    findUser: { name: "find-user", text: "SELECT id, name, password_hash FROM users WHERE lower(name) = lower($1)" },
    insertUser: `INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, ${now})
      ON CONFLICT ((lower(name))) DO NOTHING RETURNING id`,
    insertUsers: `INSERT INTO users (name, password_hash, created_at)
      SELECT name, hash, ${now} FROM unnest($1::text[], $2::text[]) AS p (name, hash)
      ON CONFLICT ((lower(name))) DO NOTHING RETURNING id, name`,

    lockPeer: "SELECT pg_advisory_xact_lock($1, $2::int)",
    tryLockPeers: "SELECT user_id FROM unnest($2::bigint[]) AS user_id WHERE pg_try_advisory_xact_lock($1, user_id::int)",
    upsertSession: `
      INSERT INTO sessions AS s (user_id, token_hash, address, created_at, last_seen_at, expires_at)
      VALUES ($1, $2, $3, ${now}, ${now}, ${now} + $4::float8 * interval '1 millisecond')
      ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, address = excluded.address,
        created_at = excluded.created_at, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at
      RETURNING s.user_id, (SELECT name FROM users WHERE id = s.user_id) AS name, s.address, s.last_seen_at, s.expires_at`,
    insertSessions: `
      INSERT INTO sessions (user_id, token_hash, address, created_at, last_seen_at, expires_at)
      SELECT user_id, token_hash, address, ${now}, ${now}, ${now} + ttl_ms * interval '1 millisecond'
      FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::float8[]) AS p (user_id, token_hash, address, ttl_ms)`,
    liveSessionByToken: {
      name: "live-session-by-token",
      text: `SELECT s.user_id, u.name, s.address, s.last_seen_at, s.expires_at
        FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > ${now}`,
    },
    liveUserIdByToken: `SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at > ${now}`,
    liveSessionOfUser: `SELECT 1 FROM sessions WHERE user_id = $1 AND expires_at > ${now}`,
    deleteLiveSession: `DELETE FROM sessions WHERE token_hash = $1 AND expires_at > ${now}`,
    renewSessions: {
      name: "renew-sessions",
      text: `
        UPDATE sessions AS s SET last_seen_at = ${now}, expires_at = ${now} + r.ttl_ms * interval '1 millisecond'
        FROM unnest($1::bytea[], $2::float8[]) AS r (token_hash, ttl_ms)
        WHERE s.token_hash = r.token_hash AND s.expires_at > ${now}
        RETURNING s.token_hash, s.expires_at`,
    },
    expiredSessions: `SELECT user_id FROM sessions WHERE expires_at <= ${now} ORDER BY expires_at LIMIT $1`,
    deleteExpiredSessions: `DELETE FROM sessions WHERE user_id = ANY($1::bigint[]) AND expires_at <= ${now} RETURNING user_id`,

    filesOfUser: "SELECT content_id, name, size, piece_size FROM files WHERE user_id = $1",
    someFilesOfUser: "SELECT content_id, name, size, piece_size FROM files WHERE user_id = $1 AND content_id = ANY($2::bytea[])",
    fileOfUser: "SELECT 1 FROM files WHERE user_id = $1 AND content_id = $2",
    countFilesOfUser: "SELECT count(*) AS count FROM files WHERE user_id = $1",
    deleteFiles: "DELETE FROM files WHERE user_id = $1 AND content_id = ANY($2::bytea[])",
    insertFiles: `INSERT INTO files (user_id, content_id, name, size, piece_size)
      SELECT $1, * FROM unnest($2::bytea[], $3::text[], $4::bigint[], $5::int[])`,
    insertFilesOfMany: `INSERT INTO files (user_id, content_id, name, size, piece_size)
      SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::bigint[], $5::int[])`,
    deleteFilesOfUsers: `
      WITH gone AS (DELETE FROM files WHERE user_id = ANY($1::bigint[]) RETURNING content_id, name, size, piece_size)
      SELECT content_id, name, size, piece_size, count(*)::int AS holders FROM gone GROUP BY 1, 2, 3, 4`,

    // Locks the contents rows of the touched contents in content-id order, creating missing ones (with
    // placeholder values, replaced by refreshContents). DO UPDATE ... WHERE false locks without writing.
    lockContents: `
      INSERT INTO contents AS c (content_id, name, name_key, size, piece_size)
      SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::bigint[], $5::int[])
        AS t (content_id, name, name_key, size, piece_size)
      ORDER BY content_id
      ON CONFLICT (content_id) DO UPDATE SET name = c.name WHERE false`,
    addHolders: `
      INSERT INTO content_variants AS v (content_id, name, size, piece_size, name_key, holders)
      SELECT * FROM unnest($1::bytea[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::int[])
        AS d (content_id, name, size, piece_size, name_key, holders)
      ORDER BY content_id, name COLLATE "C", size, piece_size
      ON CONFLICT (content_id, name, size, piece_size) DO UPDATE SET holders = v.holders + excluded.holders
      RETURNING v.content_id, v.name, v.size, v.piece_size, v.holders`,
    deleteEmptyVariants: `
      DELETE FROM content_variants v USING unnest($1::bytea[], $2::text[], $3::bigint[], $4::int[])
        AS d (content_id, name, size, piece_size)
      WHERE (v.content_id, v.name, v.size, v.piece_size) = (d.content_id, d.name, d.size, d.piece_size) AND v.holders <= 0`,
    // The variant most holders use, ties to the smallest (name, size, piece size); no variant: no content.
    // The WHERE keeps unchanged rows (the common case) from being rewritten with their index entries.
    refreshContents: `
      WITH best AS (
        SELECT DISTINCT ON (content_id) content_id, name, name_key, size, piece_size FROM content_variants
        WHERE content_id = ANY($1::bytea[])
        ORDER BY content_id, holders DESC, name, size, piece_size
      ), renamed AS (
        UPDATE contents c SET name = b.name, name_key = b.name_key, size = b.size, piece_size = b.piece_size
        FROM best b
        WHERE c.content_id = b.content_id AND (c.name, c.size, c.piece_size) IS DISTINCT FROM (b.name, b.size, b.piece_size)
      )
      DELETE FROM contents c WHERE c.content_id = ANY($1::bytea[]) AND NOT EXISTS (SELECT 1 FROM best b WHERE b.content_id = c.content_id)`,

    anyExpiredSession: `SELECT EXISTS (SELECT 1 FROM sessions WHERE expires_at <= ${now}) AS any`,
    search: { allLive: searchStatements(""), checkingLiveness: searchStatements(` AND ${liveHolder}`) },
    contentsWithHolders: `
      SELECT c.content_id, c.name, c.size, c.piece_size, h.holder_name, h.address, h.last_seen_at, h.holder_count
      FROM unnest($1::bytea[]) WITH ORDINALITY AS r (content_id, position)
      JOIN contents c ON c.content_id = r.content_id
      LEFT JOIN LATERAL (
        SELECT u.name AS holder_name, s.address, s.last_seen_at, count(*) OVER ()::int AS holder_count
        FROM files f JOIN sessions s ON s.user_id = f.user_id JOIN users u ON u.id = f.user_id
        WHERE f.content_id = c.content_id AND s.expires_at > ${now}
        ORDER BY s.last_seen_at DESC, u.name
        LIMIT $2
      ) AS h ON true
      ORDER BY r.position, h.last_seen_at DESC, h.holder_name`,

    livePeers: `SELECT u.name, s.address, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.expires_at > ${now} ORDER BY u.name`,
    livePeerById: `SELECT u.id, u.name, s.address, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.user_id = $1 AND s.expires_at > ${now}`,
    leastRecentlyChosenSkipLocked: peerOf("SKIP LOCKED"),
    leastRecentlyChosen: peerOf(""),
    markChosen: "UPDATE users SET last_chosen_seq = nextval('upload_target_seq') WHERE id = $1",

    insertTicket: `
      INSERT INTO tickets (ticket_hash, content_id, size, from_user_id, target_user_id, created_at, expires_at)
      VALUES ($1, $2, $3, $4, $5, ${now}, ${now} + $6::float8 * interval '1 millisecond')
      RETURNING expires_at`,
    redeemTicket: `
      UPDATE tickets t SET redeemed_at = ${now}
      WHERE t.ticket_hash = $1 AND t.target_user_id = $2 AND t.content_id = $3
        AND t.expires_at > ${now} AND t.redeemed_at IS NULL
      RETURNING t.size, (SELECT name FROM users WHERE id = t.from_user_id) AS from_name`,
    redeemedTicket: `
      SELECT 1 FROM tickets WHERE ticket_hash = $1 AND target_user_id = $2 AND content_id = $3
        AND expires_at > ${now} AND redeemed_at IS NOT NULL`,
    deleteExpiredTickets: `DELETE FROM tickets WHERE expires_at <= ${now}`,

    stats: `SELECT
      (SELECT count(*) FROM users) AS users,
      (SELECT count(*) FROM sessions) AS sessions,
      (SELECT count(*) FROM sessions WHERE expires_at > ${now}) AS "livePeers",
      (SELECT count(*) FROM files) AS "indexedFiles",
      (SELECT count(*) FROM contents) AS contents`,
  };
}

/**
 * The search statements, with `live` either empty (every holder is live) or the liveness condition.
 * $1 is the index condition's value (see indexCondition) where there is one, `key` the lower-cased query.
 */
function searchStatements(live: string) {
  return {
    // The first matches among the first $2 names in name order (index-only: name_key is in the index).
    pageInWindow: `
      SELECT v.content_id FROM (
        SELECT content_id, name_key FROM contents ORDER BY name_key, content_id LIMIT $2
      ) AS v
      WHERE strpos(v.name_key, $1) > 0${live}
      ORDER BY v.name_key, v.content_id OFFSET $3 LIMIT $4`,
    // strpos() is nothing the GIN indexes answer, so this walks contents_by_name in order.
    pageInNameOrder: `
      SELECT v.content_id FROM contents v WHERE strpos(v.name_key, $1) > 0${live}
      ORDER BY v.name_key, v.content_id OFFSET $2 LIMIT $3`,
    countInNameOrder: `
      SELECT count(*)::int AS n FROM (
        SELECT 1 FROM (SELECT content_id, name_key FROM contents ORDER BY name_key, content_id LIMIT $3) AS v
        WHERE strpos(v.name_key, $1) > 0${live} LIMIT $2
      ) AS c`,
    // Up to $3 names containing the query, from the GIN index (materialized: never a walk of all names):
    // how many there are, and the live ones in name order (used only when there are not too many).
    fewMatches: (index: string) => `
      WITH candidates AS MATERIALIZED (
        SELECT v.content_id, v.name_key FROM contents v WHERE ${index} AND strpos(v.name_key, $2) > 0 LIMIT $3
      )
      SELECT (SELECT count(*) FROM candidates)::int AS n,
        ARRAY(SELECT v.content_id FROM candidates v WHERE true${live} ORDER BY v.name_key, v.content_id) AS matches`,
    countAmongCandidates: (index: string) => `
      SELECT count(*)::int AS n FROM (
        SELECT v.content_id FROM contents v WHERE ${index} AND strpos(v.name_key, $2) > 0 LIMIT $3
      ) AS v WHERE true${live}`,
  };
}

/** Rows of contentsWithHolders (one per holder, or one with no holder) as records, in their order. */
function groupHolders(rows: ReadonlyArray<FileRow & HolderRow>): ContentRecord[] {
  const records = new Map<string, ContentRecord>();
  for (const row of rows) {
    const hex = row.content_id.toString("hex");
    let record = records.get(hex);
    if (!record) {
      record = { contentId: hex, name: row.name, size: row.size, pieceSize: row.piece_size, holders: [], holderCount: row.holder_count ?? 0 };
      records.set(hex, record);
    }
    if (row.holder_name !== null) record.holders.push(toHolder(row));
  }
  return [...records.values()];
}

function variantOf(entry: FileEntry): Omit<VariantDelta, "delta"> {
  return { contentId: hexBytes(entry.contentId), name: entry.name, size: entry.size, pieceSize: entry.pieceSize };
}

/** The columns of `files` rows for unnest(): content ids, names, sizes, piece sizes. */
function fileColumns(entries: readonly FileEntry[]): [Buffer[], string[], number[], number[]] {
  return [
    entries.map((entry) => hexBytes(entry.contentId)),
    entries.map((entry) => entry.name),
    entries.map((entry) => entry.size),
    entries.map((entry) => entry.pieceSize),
  ];
}

function toHolder(row: HolderRow): PeerRecord {
  return { name: row.holder_name, address: row.address, lastSeenAt: row.last_seen_at };
}
