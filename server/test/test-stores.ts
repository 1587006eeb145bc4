// The two stores as tests and benchmarks use them, with what production never needs: a bulk loader
// (importPeers: many peers, their sessions and indexes, in one transaction), the SQLite trigram index's
// segment count, and a PostgreSQL store that reads "now" from a test's clock instead of the database's.

import type Database from "better-sqlite3";
import type pg from "pg";
import type { Clock } from "../src/clock.js";
import { type PgClock, PgStore, type PgStoreOptions } from "../src/storage/pg-store.js";
import { fileColumns } from "../src/storage/pg-statements.js";
import { openPgPools, type PgPools } from "../src/storage/pg-connection.js";
import { hexBytes, lastEntryPerContent } from "../src/storage/rows.js";
import { SqliteStore, type SqliteStoreOptions } from "../src/storage/sqlite-store.js";
import type { FileEntry } from "../src/storage/store.js";

/** One peer to load with importPeers. */
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

/** SqliteStore with a bulk loader and the trigram index's segment count. */
export class TestSqliteStore extends SqliteStore {
  /** Opens (creating and migrating if needed) the database file at `path`. */
  static override open(path: string, options: SqliteStoreOptions = {}): TestSqliteStore {
    return super.openWith(path, options, (db: Database.Database, clock: Clock) => new TestSqliteStore(db, clock));
  }

  /** Loads many peers (account, live session, index) in one transaction; a name already taken fails it all. */
  importPeers(peers: readonly ImportedPeer[]): void {
    this.load((loader) => {
      for (const peer of peers) {
        const user = loader.createUser(peer.name, peer.passwordHash);
        if (!user) throw new Error(`user ${peer.name} already exists`);
        loader.openSession(user.id, peer.tokenHash, peer.address, peer.ttlMs);
        loader.addFiles(user.id, peer.files);
      }
    });
  }

  /** The search threads once started (0 running when there are none), and how many searches they answered. */
  override searchThreadsReady(): Promise<{ running: number; served: () => number }> {
    return super.searchThreadsReady();
  }

  /** Number of FTS5 segments in the trigram index. */
  override trigramSegments(): number {
    return super.trigramSegments();
  }
}

/** Options of TestPgStore.open: a PostgreSQL store, optionally on a test's clock. */
export interface TestPgStoreOptions extends PgStoreOptions {
  /** Read "now" from this clock instead of the database's (every instance of a test shares it). */
  clock?: Clock;
}

/** PgStore with a bulk loader, optionally reading "now" from a test's clock. */
export class TestPgStore extends PgStore {
  readonly #now: string;

  private constructor(pools: PgPools, clock: PgClock | undefined) {
    super(pools, clock);
    this.#now = clock?.sql ?? "now()";
  }

  /** Connects, creates the schema if missing, and migrates; with `clock`, "now" is the clock's. */
  static override async open(options: TestPgStoreOptions): Promise<TestPgStore> {
    return new TestPgStore(await openPgPools(options), options.clock ? clockSetting(options.clock) : undefined);
  }

  /**
   * Loads many peers (account, live session, index) in one transaction and a handful of statements;
   * a name already taken fails it all.
   */
  async importPeers(peers: readonly ImportedPeer[]): Promise<void> {
    if (peers.length === 0) return;
    const now = this.#now;
    await this.load(async ({ db, addHolders }) => {
      const users = await db.query<{ id: number; name: string }>(
        `INSERT INTO users (name, password_hash, created_at)
         SELECT name, hash, ${now} FROM unnest($1::text[], $2::text[]) AS p (name, hash)
         ON CONFLICT ((lower(name))) DO NOTHING RETURNING id, name`,
        [peers.map((peer) => peer.name), peers.map((peer) => peer.passwordHash)],
      );
      if (users.rows.length !== peers.length) throw new Error("importPeers: a user name is already taken");
      const idOf = new Map(users.rows.map((row) => [row.name.toLowerCase(), row.id]));
      const ids = peers.map((peer) => idOf.get(peer.name.toLowerCase()) as number);
      await db.query(
        `INSERT INTO sessions (user_id, token_hash, address, created_at, last_seen_at, expires_at)
         SELECT user_id, token_hash, address, ${now}, ${now}, ${now} + ttl_ms * interval '1 millisecond'
         FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::float8[]) AS p (user_id, token_hash, address, ttl_ms)`,
        [ids, peers.map((peer) => hexBytes(peer.tokenHash)), peers.map((peer) => peer.address), peers.map((peer) => peer.ttlMs)],
      );
      const owners: number[] = [];
      const entries: FileEntry[] = [];
      peers.forEach((peer, i) => {
        for (const entry of lastEntryPerContent(peer.files).values()) {
          owners.push(ids[i] as number);
          entries.push(entry);
        }
      });
      await db.query(
        `INSERT INTO files (user_id, content_id, name, size, piece_size)
         SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::bigint[], $5::int[])`,
        [owners, ...fileColumns(entries)],
      );
      await addHolders(entries);
    });
  }
}

/** "Now" read from a setting of the connection, which is set from `clock` before every statement. */
function clockSetting(clock: Clock): PgClock {
  return {
    sql: "current_setting('directory.now')::timestamptz",
    set: async (db: pg.ClientBase, scope) => {
      await db.query("SELECT set_config('directory.now', $1, $2)", [new Date(clock.now()).toISOString(), scope === "transaction"]);
    },
  };
}
