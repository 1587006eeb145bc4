// The PostgreSQL store, for several stateless directory instances on one database (layout and the
// reasons for it: pg-schema.ts).
//
// How it keeps store.ts's rules with many writers:
// - "Now" is the database's clock (`now()`, the start of the transaction), so every instance agrees on
//   who is live. Only tests give another clock (a PgClock; see server/test/test-stores.ts).
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
// Connecting and migrating: pg-connection.ts. Statements: pg-statements.ts. Search: pg-search.ts.

import type pg from "pg";
import { PG_RETRY_DELAY_MS, PG_TRANSACTION_ATTEMPTS } from "../constants.js";
import { DATABASE_CLOCK, dropPgSchema, openPgPools, type PgClock, type PgPools, type PgStoreOptions } from "./pg-connection.js";
import { pushPolicyAccepts } from "@p2p/directory-api";
import { searchNames } from "./pg-search.js";
import { senderKeys, toPushPolicy, type PushPolicyRow } from "./push-policy-sql.js";
import { fileColumns, groupHolders, type HolderRow, pgStatements, type PgStatements } from "./pg-statements.js";
import {
  type ChosenPeerRow,
  type FileRow,
  contentIdBytes,
  contentIdText,
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

export { DATABASE_CLOCK, probePostgres, redactConnectionString, type PgClock, type PgStoreOptions } from "./pg-connection.js";

/** SQLSTATEs of a transaction PostgreSQL aborted only because of another one: safe to run again. */
const RETRYABLE_SQLSTATES = new Set(["40001", "40P01"]);

/** What a subclass may do inside one transaction of `load` (bulk loading for benchmarks and tests). */
export interface PgLoader {
  /** The transaction's connection. */
  readonly db: pg.PoolClient;
  /** Counts newly inserted `files` rows as holders of their contents. */
  addHolders(entries: readonly FileEntry[]): Promise<void>;
}

type Db = pg.PoolClient;

interface PendingRenewal {
  tokenHash: string;
  ttlMs: number;
  slackMs: number;
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
  /** Read-only connections for searches, sequential scans off (pg-search.ts). */
  readonly #searchPool: pg.Pool;
  /** First half of the two-key advisory lock that serializes changes to one peer's index (per schema). */
  readonly #peerLock: number;
  readonly #clock: PgClock;
  readonly #sql: PgStatements;
  #renewals: PendingRenewal[] = [];
  readonly #renewing = new Set<Promise<void>>();
  #closed = false;

  /** A store on open pools, reading "now" from `clock`. */
  protected constructor({ pool, heartbeatPool, searchPool, peerLockClass }: PgPools, clock: PgClock = DATABASE_CLOCK) {
    this.#peerLock = peerLockClass;
    this.#pool = pool;
    this.#heartbeatPool = heartbeatPool;
    this.#searchPool = searchPool;
    this.#clock = clock;
    this.#sql = pgStatements(clock.sql);
  }

  /** Connects, creates the schema and the pg_trgm extension if missing, and migrates (once, under a lock). */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    return new PgStore(await openPgPools(options));
  }

  /** Drops a schema and everything in it (tests and benchmarks work in throwaway schemas). */
  static async dropSchema(connectionString: string, schema: string): Promise<void> {
    await dropPgSchema(connectionString, schema);
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
      await db.query(this.#sql.lockPeer, [this.#peerLock, userId]);
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
  renewSession(tokenHash: string, ttlMs: number, slackMs = 0): Promise<Date | null> {
    return new Promise((resolve, reject) => {
      this.#renewals.push({ tokenHash, ttlMs, slackMs, resolve, reject });
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
            [
              batch.map((renewal) => hexBytes(renewal.tokenHash)),
              batch.map((renewal) => renewal.ttlMs),
              batch.map((renewal) => renewal.slackMs),
            ],
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
      await db.query(this.#sql.lockPeer, [this.#peerLock, userId]);
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
        const hex = contentIdText(row.content_id);
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
      const named = [...new Set([...remove, ...wanted.keys()])].map(contentIdBytes);
      const held = await db.query<FileRow>(this.#sql.someFilesOfUser, [userId, named]);
      const byContent = new Map(held.rows.map((row) => [contentIdText(row.content_id), row]));
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
   * On a search connection, without a transaction: each statement sees what was committed when it
   * started, so the holders listed may be a few milliseconds fresher than the page's names (as on
   * SQLite, where heartbeats are committed between requests).
   */
  async searchByName(query: string, options: SearchOptions): Promise<SearchPage> {
    const db = await this.#searchPool.connect();
    let broken: Error | undefined;
    try {
      await this.#clock.set?.(db, "session");
      return await searchNames(db, this.#sql, query.toLowerCase(), options, (ids) => this.#withHolders(db, ids, options.maxHolders));
    } catch (error) {
      // A statement that failed leaves the connection usable; one that lost it (no SQLSTATE) does not.
      if ((error as { code?: string }).code === undefined) broken = error as Error;
      throw error;
    } finally {
      db.release(broken);
    }
  }

  async findContent(contentId: string, maxHolders: number): Promise<ContentRecord | null> {
    const { rows } = await this.#query<FileRow & HolderRow>(this.#sql.contentsWithHolders, [[contentIdBytes(contentId)], maxHolders]);
    const [content] = groupHolders(rows);
    return content && content.holderCount > 0 ? content : null;
  }

  async listLivePeers(): Promise<PeerRecord[]> {
    const { rows } = await this.#query<ChosenPeerRow>(this.#sql.livePeers, []);
    return rows.map(toPeer);
  }

  async findLivePeerByAddress(address: string): Promise<string | null> {
    const { rows } = await this.#query<{ name: string }>(this.#sql.livePeerByAddress, [address]);
    return rows[0]?.name ?? null;
  }

  async deleteUser(userId: number): Promise<number | null> {
    return this.#transaction(async (db) => {
      await db.query(this.#sql.lockPeer, [this.#peerLock, userId]);
      const files = await this.#dropIndexes(db, [userId]);
      await db.query("DELETE FROM sessions WHERE user_id = $1", [userId]);
      await db.query(this.#sql.deleteTicketsOfUser, [userId]);
      const deleted = await db.query(this.#sql.deleteUser, [userId]);
      return deleted.rowCount === 0 ? null : files;
    });
  }

  async chooseUploadTarget(request: UploadTargetRequest): Promise<UploadTargetResult> {
    const contentId = contentIdBytes(request.contentId);
    return this.#transaction(async (db): Promise<UploadTargetResult> => {
      let chosen: ChosenPeerRow | undefined;
      if (request.targetName !== undefined) {
        const target = (await db.query<{ id: number }>(this.#sql.findUser, [request.targetName])).rows[0];
        if (target?.id === request.fromUserId) return { kind: "target-is-caller" };
        chosen = target ? (await db.query<ChosenPeerRow>(this.#sql.livePeerById, [target.id])).rows[0] : undefined;
        if (!chosen) return { kind: "target-not-live" };
        if ((await db.query(this.#sql.fileOfUser, [chosen.id, contentId])).rowCount) return { kind: "target-holds-content" };
        const row = (await db.query<PushPolicyRow>(this.#sql.pushPolicyOfUser, [chosen.id])).rows[0];
        const policy = row ? toPushPolicy(row) : null;
        if (!policy || !pushPolicyAccepts(policy, request.fromName, request.size)) return { kind: "target-refuses", policy };
      } else {
        // Peers with an open ticket for this content come last: they are probably receiving it already.
        // Peers another instance is choosing right now are skipped first, waited for only if nobody else is left.
        for (const [anyTicket, skipLocked] of [[false, true], [true, true], [false, false], [true, false]] as const) {
          const sql = skipLocked ? this.#sql.leastRecentlyChosenSkipLocked : this.#sql.leastRecentlyChosen;
          const values = [request.fromUserId, contentId, anyTicket, request.size, request.fromName.toLowerCase()];
          chosen = (await db.query<ChosenPeerRow>(sql, values)).rows[0];
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

  async setPushPolicy(userId: number, policy: PushPolicyRecord): Promise<void> {
    await this.#query(this.#sql.upsertPushPolicy, [userId, policy.accept, senderKeys(policy.from), policy.maxFileBytes, policy.quotaBytes]);
  }

  async findPushPolicy(userId: number): Promise<PushPolicyRecord | null> {
    const row = (await this.#query<PushPolicyRow>(this.#sql.pushPolicyOfUser, [userId])).rows[0];
    return row ? toPushPolicy(row) : null;
  }

  async redeemTicket(request: RedeemRequest): Promise<RedeemResult> {
    const values = [hexBytes(request.ticketHash), request.userId, contentIdBytes(request.contentId)];
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
        this.#peerLock,
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
    await Promise.all([this.#pool.end(), this.#heartbeatPool.end(), this.#searchPool.end()]);
  }

  /**
   * Runs `work` in one transaction, with the store's own holder counting: for subclasses that load many
   * peers at once (benchmarks, tests), in a handful of statements instead of one transaction per peer.
   */
  protected async load(work: (loader: PgLoader) => Promise<void>): Promise<void> {
    await this.#transaction((db) =>
      work({ db, addHolders: (entries) => this.#applyDeltas(db, entries.map((entry) => ({ ...variantOf(entry), delta: 1 }))) }),
    );
  }

  /** Takes the peer's lock; false (and nothing locked) when its session is not live. */
  async #lockLivePeer(db: Db, userId: number): Promise<boolean> {
    await db.query(this.#sql.lockPeer, [this.#peerLock, userId]);
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

  /**
   * Deletes the peers' whole indexes with their holder counts; returns the rows deleted. Hold their locks.
   * The same steps as #applyDeltas, in statements that take only the user ids (pg-statements.ts says why).
   */
  async #dropIndexes(db: Db, userIds: readonly number[]): Promise<number> {
    const ids = [userIds];
    const { rows } = await db.query<{ n: number }>(this.#sql.lockContentsOfUsers, ids);
    // Every file held has its contents row: none locked is no file (a login's usual case, two statements).
    if ((rows[0]?.n ?? 0) > 0) {
      await db.query(this.#sql.subtractHoldersOfUsers, ids);
      await db.query(this.#sql.deleteEmptyVariantsOfUsers, ids);
      await db.query(this.#sql.refreshContentsOfUsers, ids);
    }
    return (await db.query(this.#sql.deleteFilesOfUsers, ids)).rowCount ?? 0;
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
      await db.query(this.#sql.deleteEmptyVariants, [[...new Set(empty.map((row) => row.content_id.toString("hex")))].map(hexBytes)]);
    }
    await db.query(this.#sql.refreshContents, [touched.map((change) => change.contentId)]);
  }

  /** The contents of a search page, in the given order, each with its live holders (one query). */
  async #withHolders(db: Db, contentIds: readonly Buffer[], maxHolders: number): Promise<ContentRecord[]> {
    if (contentIds.length === 0) return [];
    const { rows } = await db.query<FileRow & HolderRow>({ ...this.#sql.contentsWithHolders, values: [contentIds, maxHolders] });
    return groupHolders(rows);
  }

  /** One statement outside a transaction (on a connection of its own when the clock must be set first). */
  async #query<R extends pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values: unknown[],
    pool: pg.Pool = this.#pool,
  ): Promise<pg.QueryResult<R>> {
    const config = typeof text === "string" ? { text, values } : { ...text, values };
    if (!this.#clock.set) return pool.query<R>(config);
    const db = await pool.connect();
    try {
      await this.#clock.set(db, "session");
      return await db.query<R>(config);
    } finally {
      db.release();
    }
  }

  /** Runs `work` in one transaction, again when PostgreSQL aborted it for a deadlock or serialization failure. */
  async #transaction<T>(work: (db: Db) => Promise<T>): Promise<T> {
    return this.#retrying(async () => {
      const db = await this.#pool.connect();
      let broken: Error | undefined;
      try {
        await db.query("BEGIN");
        await this.#clock.set?.(db, "transaction");
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

function variantOf(entry: FileEntry): Omit<VariantDelta, "delta"> {
  return { contentId: contentIdBytes(entry.contentId), name: entry.name, size: entry.size, pieceSize: entry.pieceSize };
}
