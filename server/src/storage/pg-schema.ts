// The PostgreSQL schema, as numbered migrations applied in order (table schema_migrations records them).
// PgStore.open runs them at start under a pg_advisory_lock, so two directories starting at once on
// one database migrate it once.
//
// Layout, and how it keeps SQLite's (sqlite-schema.ts) with several writers at once:
// - users, sessions, files, content_variants, contents and tickets are the same rows. Every text that is
//   compared or ordered is COLLATE "C" (byte order, as SQLite's BINARY), so both stores sort alike.
// - Round-robin state is users.last_chosen_seq, drawn from a sequence: nextval() is atomic across
//   directory instances, where SQLite's max() + 1 would hand two instances the same number.
// - contents holds one row per content id with the name most holders use, recomputed from
//   content_variants after each change. Two transactions changing holders of one content at once
//   would each recompute it without seeing the other's change, and the last to commit would win with
//   a stale view. So a transaction first locks (or creates) the contents rows of every content it
//   touches, in one statement, in content-id order (no deadlocks), and recomputes them in a later
//   statement, whose snapshot includes every transaction that held those locks before it.
// - Search reads contents.name_key (the name lower-cased by the directory, so both stores fold case
//   alike): a pg_trgm GIN index for queries with a trigram, a GIN index over each name's 1- and
//   2-character substrings for those trigrams cannot serve (1-2 characters, or only punctuation), and
//   a B-tree in name order, walked (index-only) when a query matches many names.
// - Content ids and hashes are bytea (32 bytes): half the size of hex, and byte order equals hex order.
// - sessions and content_variants leave room in each page (fillfactor) so that heartbeats and holder
//   counts, the most frequent updates, can be HOT updates that rewrite no index.

import { CONTENT_ID_MIGRATION_NOTE } from "./rows.js";

/** What a migration did that an operator should know (data dropped, or upkeep changed), for the start log, by the version it brings the schema to. */
export const PG_MIGRATION_NOTES: Readonly<Record<number, string>> = {
  2: CONTENT_ID_MIGRATION_NOTE,
  4: "autovacuum now visits contents after 1% of its rows changed (was 20%), so that search's index-only walks stay index-only; nothing dropped",
};

/** A migration's text; `{{trgm}}` stands for the schema pg_trgm is installed in (quoted). */
export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text COLLATE "C" NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL,
    last_chosen_seq bigint NOT NULL DEFAULT 0
  );
  -- Usernames are [A-Za-z0-9._-], so lower() folds them exactly as SQLite's NOCASE does.
  CREATE UNIQUE INDEX users_by_name ON users (lower(name));
  CREATE INDEX users_by_last_chosen ON users (last_chosen_seq, name);
  CREATE SEQUENCE upload_target_seq;

  CREATE TABLE sessions (
    user_id bigint PRIMARY KEY REFERENCES users (id),
    token_hash bytea NOT NULL UNIQUE,
    address text NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
  ) WITH (fillfactor = 50);
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);

  CREATE TABLE files (
    user_id bigint NOT NULL REFERENCES users (id),
    content_id bytea NOT NULL,
    name text COLLATE "C" NOT NULL,
    size bigint NOT NULL,
    piece_size integer NOT NULL,
    PRIMARY KEY (user_id, content_id)
  );
  CREATE INDEX files_by_content ON files (content_id, user_id);

  CREATE TABLE content_variants (
    content_id bytea NOT NULL,
    name text COLLATE "C" NOT NULL,
    size bigint NOT NULL,
    piece_size integer NOT NULL,
    name_key text COLLATE "C" NOT NULL,
    -- No CHECK (holders > 0): PostgreSQL checks the row an upsert proposes before it finds the
    -- conflict, and negative changes go through that upsert; a counter that reaches 0 is deleted.
    holders integer NOT NULL,
    PRIMARY KEY (content_id, name, size, piece_size)
  ) WITH (fillfactor = 80);

  CREATE TABLE contents (
    content_id bytea PRIMARY KEY,
    name text COLLATE "C" NOT NULL,
    name_key text COLLATE "C" NOT NULL,
    size bigint NOT NULL,
    piece_size integer NOT NULL
  );
  CREATE INDEX contents_by_name ON contents (name_key, content_id);
  CREATE INDEX contents_by_trigram ON contents USING gin (name_key {{trgm}}.gin_trgm_ops);

  -- Every 1- and 2-character substring of a lower-cased name (GIN drops the repeats). PL/pgSQL, not
  -- SQL: a SQL function with a FROM is planned and run as a query per call, ~2.5x slower here.
  CREATE FUNCTION short_grams(name_key text) RETURNS text[]
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
  DECLARE
    grams text[] := string_to_array(name_key, NULL);
  BEGIN
    FOR i IN 1 .. length(name_key) - 1 LOOP
      grams := grams || substr(name_key, i, 2);
    END LOOP;
    RETURN grams;
  END
  $$;
  CREATE INDEX contents_by_short_gram ON contents USING gin (short_grams(name_key));

  CREATE TABLE tickets (
    ticket_hash bytea PRIMARY KEY,
    content_id bytea NOT NULL,
    size bigint NOT NULL,
    from_user_id bigint NOT NULL REFERENCES users (id),
    target_user_id bigint NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    redeemed_at timestamptz
  );
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
  // 3: push policies (push-policy-sql.ts); `senders` holds lower-cased peer names.
  `
  CREATE TABLE push_policies (
    user_id bigint PRIMARY KEY REFERENCES users (id),
    accept text COLLATE "C" NOT NULL CHECK (accept IN ('nobody', 'listed', 'anyone')),
    senders text[] COLLATE "C" NOT NULL,
    max_file_bytes bigint NOT NULL,
    quota_bytes bigint NOT NULL
  );
  `,
  // 4: search walks contents_by_name index-only, which holds only for heap pages the visibility map
  // marks all-visible. A publish and a logout of 10,000 files at 1M rows cleared the mark on most pages
  // and PostgreSQL's CPU per search rose from 4.2 to 7.4 ms (bench/search-cpu.ts, 2026-12-05); at the
  // default 20% autovacuum would have waited for ~83,000 changed rows. 1% is ~4,000 at 1M rows; PG 14+
  // skips the index pass when few rows are dead, so such a vacuum mostly resets the marks.
  `
  ALTER TABLE contents SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01);
  `,
];
