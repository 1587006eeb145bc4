// The SQLite schema, as numbered migrations applied in order (PRAGMA user_version records the last one).
//
// Layout, and why:
// - users: accounts. `name` is unique case-insensitively, so "Alice" cannot impersonate "alice".
//   `last_chosen_seq` is the round-robin state of upload targets (a counter, not a timestamp: with a
//   frozen or coarse clock, timestamps tie and the same peer would be picked forever).
// - sessions: one row per user with an open session. A peer is live while `expires_at > now`.
// - files: one row per (peer, content id); a peer holds each content id at most once.
// - content_variants: per content id, how many holders use each (name, size, piece size). Keeping the
//   counts makes "the name most holders use" O(variants) per change instead of O(holders).
// - contents: one row per content id with its representative name; `name_key` is the lower-cased name.
//   Search reads this table: an FTS5 trigram index over `name_key` finds the names containing a query,
//   and the (name_key, content_id) index yields results in name order.
// - tickets: push tickets, stored by hash, single use.
// - push_policies: whom each peer takes pushes from; a peer without a row takes none.
// Content ids and hashes are 32-byte BLOBs: half the size of hex text, and byte order equals hex order.

import { CONTENT_ID_MIGRATION_NOTE } from "./rows.js";

/** What a migration that drops data did, for the start log, by the user_version it brings the schema to. */
export const MIGRATION_NOTES: Readonly<Record<number, string>> = { 2: CONTENT_ID_MIGRATION_NOTE };

/** Migrations, in order; index i brings the schema to user_version i + 1. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_chosen_seq INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX users_by_last_chosen ON users (last_chosen_seq, name);

  CREATE TABLE sessions (
    user_id INTEGER PRIMARY KEY REFERENCES users (id),
    token_hash BLOB NOT NULL UNIQUE,
    address TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);

  CREATE TABLE files (
    user_id INTEGER NOT NULL REFERENCES users (id),
    content_id BLOB NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    piece_size INTEGER NOT NULL,
    PRIMARY KEY (user_id, content_id)
  ) WITHOUT ROWID;
  CREATE INDEX files_by_content ON files (content_id, user_id);

  CREATE TABLE content_variants (
    content_id BLOB NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    piece_size INTEGER NOT NULL,
    holders INTEGER NOT NULL,
    PRIMARY KEY (content_id, name, size, piece_size)
  ) WITHOUT ROWID;

  CREATE TABLE contents (
    id INTEGER PRIMARY KEY,
    content_id BLOB NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    size INTEGER NOT NULL,
    piece_size INTEGER NOT NULL
  );
  CREATE INDEX contents_by_name ON contents (name_key, content_id);

  -- Contentless, and each name indexed with two U+0001 characters appended (names cannot contain control
  -- characters): then every occurrence of a 1- or 2-character query starts some trigram, so short queries
  -- are answered from the trigram vocabulary too instead of by scanning every name.
  CREATE VIRTUAL TABLE contents_fts USING fts5 (
    grams, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1'
  );
  CREATE VIRTUAL TABLE contents_fts_terms USING fts5vocab (contents_fts, row);
  CREATE TRIGGER contents_fts_insert AFTER INSERT ON contents BEGIN
    INSERT INTO contents_fts (rowid, grams) VALUES (new.id, new.name_key || char(1, 1));
  END;
  CREATE TRIGGER contents_fts_delete AFTER DELETE ON contents BEGIN
    DELETE FROM contents_fts WHERE rowid = old.id;
  END;
  CREATE TRIGGER contents_fts_update AFTER UPDATE OF name_key ON contents
  WHEN old.name_key IS NOT new.name_key BEGIN
    DELETE FROM contents_fts WHERE rowid = old.id;
    INSERT INTO contents_fts (rowid, grams) VALUES (new.id, new.name_key || char(1, 1));
  END;

  CREATE TABLE tickets (
    ticket_hash BLOB PRIMARY KEY,
    content_id BLOB NOT NULL,
    size INTEGER NOT NULL,
    from_user_id INTEGER NOT NULL REFERENCES users (id),
    target_user_id INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    redeemed_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX tickets_by_expiry ON tickets (expires_at);
  CREATE INDEX tickets_by_target ON tickets (target_user_id, content_id);
  `,
  `
  -- Content ids became m1_ + SHA-256 of the canonical manifest; the stored 32 bytes of an older row are
  -- a whole-file SHA-256 and would be read as another id. Drop them; peers republish at their next login.
  DELETE FROM tickets;
  DELETE FROM files;
  DELETE FROM content_variants;
  DELETE FROM contents;
  DELETE FROM sessions;
  `,
  // 3: push policies (push-policy-sql.ts). `senders` is a JSON array of lower-cased peer names.
  `
  CREATE TABLE push_policies (
    user_id INTEGER PRIMARY KEY REFERENCES users (id),
    accept TEXT NOT NULL CHECK (accept IN ('nobody', 'listed', 'anyone')),
    senders TEXT NOT NULL,
    max_file_bytes INTEGER NOT NULL,
    quota_bytes INTEGER NOT NULL
  );
  `,
];
