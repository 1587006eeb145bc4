// The stores as tests and benchmarks use them, with what production never needs: a bulk loader
// (importPeers: many peers, their sessions and indexes, in one transaction) and the SQLite trigram
// index's segment count.

import type Database from "better-sqlite3";
import type { Clock } from "../src/clock.js";
import { type ImportedPeer, SqliteStore, type SqliteStoreOptions } from "../src/storage/sqlite-store.js";

export type { ImportedPeer } from "../src/storage/sqlite-store.js";

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

  /** Number of FTS5 segments in the trigram index. */
  override trigramSegments(): number {
    return super.trigramSegments();
  }
}
