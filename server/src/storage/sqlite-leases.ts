// Session renewals (heartbeats) on SQLite: answered at once, written in batches, with the lease end of
// recently seen sessions kept in memory. Part of SqliteStore, which owns the database and calls
// commit() first in every other method.

import type Database from "better-sqlite3";
import { SQLITE_LEASE_CACHE_MAX } from "../constants.js";
import { hexBytes } from "./rows.js";
import type { SqliteStatements } from "./sqlite-statements.js";

interface PendingRenewal {
  token: Buffer;
  now: number;
  expiresAt: number;
}

/**
 * Heartbeats are the directory's hottest write. Committing each alone costs ~100 us here (a WAL
 * commit, and a checkpoint fsync every ~1,000 pages). So a renewal is decided at once, by reading
 * whether the session is live, and answered; the new expiry is written with every other renewal of
 * the same event-loop turn in one transaction (~6 us each at 10 per transaction). Waiting for that
 * commit before answering made 10 busy clients take turns with the database, leaving the process
 * idle a fifth of the time. A crash between the answer and the commit loses those renewals only:
 * those peers expire a little early, get 401 and log in again. With a lease slack, a renewal that
 * finds at least `ttlMs` left writes nothing at all (store.ts).
 */
export class SqliteLeases {
  readonly #db: Database.Database;
  readonly #sql: SqliteStatements;
  /** Renewals answered but not yet committed, by token hash (a later one replaces an earlier). */
  readonly #renewals = new Map<string, PendingRenewal>();
  /**
   * The lease end of sessions a renewal saw live, by token hash, as read or written: a heartbeat reads
   * here, not the database (the lookup was ~15% of a heartbeat's CPU). This process is the database's
   * only writer, and every path that ends or replaces a session forgets them all (forgetAll), so an
   * entry is never later than the row; one that has passed is read again.
   */
  readonly #leases = new Map<string, number>();

  constructor(db: Database.Database, sql: SqliteStatements) {
    this.#db = db;
    this.#sql = sql;
  }

  /** Renews the live session of `tokenHash` at `now` (see DirectoryStore.renewSession); null when none is live. */
  renew(tokenHash: string, now: number, ttlMs: number, slackMs: number): Date | null {
    const pending = this.#renewals.get(tokenHash);
    let expiresAt = pending && pending.expiresAt > now ? pending.expiresAt : this.#leases.get(tokenHash);
    if (expiresAt === undefined || expiresAt <= now) {
      expiresAt = this.#sql.liveExpiryByToken.get(hexBytes(tokenHash), now) as number | undefined;
      if (expiresAt === undefined) {
        this.#leases.delete(tokenHash);
        return null;
      }
      this.#remember(tokenHash, expiresAt);
    }
    if (slackMs > 0 && expiresAt - now >= ttlMs) return new Date(expiresAt);
    const token = hexBytes(tokenHash);
    // A pending renewal of the same session keeps the earlier arrival time as its liveness check.
    this.#renewals.set(tokenHash, { token, now: pending?.now ?? now, expiresAt: now + ttlMs + slackMs });
    this.#remember(tokenHash, now + ttlMs + slackMs);
    if (this.#renewals.size === 1) {
      setImmediate(() => {
        try {
          this.commit();
        } catch {
          // The database failed (disk full, I/O error): these renewals are lost, those peers will get
          // 401 and log in again, and the next request that touches the database reports the error.
        }
      });
    }
    return new Date(now + ttlMs + slackMs);
  }

  /**
   * Writes the answered renewals. The store calls this first in every other method, so nothing the
   * directory reads or writes afterwards misses a renewal it already confirmed.
   */
  commit(): void {
    if (this.#renewals.size === 0 || !this.#db.open) return;
    const batch = [...this.#renewals.values()];
    this.#renewals.clear();
    // Liveness is checked again against the time each heartbeat arrived, so a session that was logged
    // out or replaced meanwhile is not brought back.
    try {
      this.#db.transaction(() => {
        for (const renewal of batch) this.#sql.renewSession.run(renewal.now, renewal.expiresAt, renewal.token, renewal.now);
      })();
    } catch (error) {
      // The remembered leases may now be later than the rows: read them again.
      this.#leases.clear();
      throw error;
    }
  }

  /** Forgets every remembered lease: a session ended or was replaced, and which token was its is not known here. */
  forgetAll(): void {
    this.#leases.clear();
  }

  #remember(tokenHash: string, expiresAt: number): void {
    if (this.#leases.size >= SQLITE_LEASE_CACHE_MAX && !this.#leases.has(tokenHash)) this.#leases.clear();
    this.#leases.set(tokenHash, expiresAt);
  }
}
