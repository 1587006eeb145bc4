// The PostgreSQL schema, as numbered migrations applied in order (table schema_migrations records them).
// PgStore.open runs them at start under a pg_advisory_lock, so two directories starting at once on
// one database migrate it once.
//
// Layout, and why it differs from SQLite's (sqlite-schema.ts):
// - users, sessions, files and tickets are the same rows. Every text compared or ordered is
//   COLLATE "C" (byte order, as SQLite's BINARY), so both stores sort names the same way.
// - Round-robin state is users.last_chosen_seq, drawn from a sequence: nextval() is atomic across
//   directory instances, where SQLite's max() + 1 would hand two instances the same number.
// - There is no `contents` table. SQLite keeps one row per content id with its representative name,
//   recomputed after each change; with several writers in parallel that recomputation races (two
//   transactions each see the other's change only after committing, and the last one to write wins
//   with a stale view). Here content_variants holds the only shared state, per-(content, name, size,
//   piece size) holder counters that concurrent transactions update atomically, and the name a
//   content is shown and searched by (the variant most holders use) is decided when reading.
// - Search indexes content_variants.name_key (the name lower-cased by the directory, so both stores
//   fold case the same way): a pg_trgm GIN index for queries with a trigram, a GIN index over each
//   name's 1- and 2-character substrings for the queries trigrams cannot serve (1-2 characters, or
//   only punctuation), and a B-tree in name order to walk when a query matches very many names.
// - Content ids and hashes are bytea (32 bytes): half the size of hex, and byte order equals hex order.
// - sessions and content_variants leave room in each page (fillfactor) so that heartbeats and holder
//   counts, the most frequent updates, can be HOT updates that rewrite no index.

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
  CREATE INDEX content_variants_by_name ON content_variants (name_key, content_id);
  CREATE INDEX content_variants_by_trigram ON content_variants USING gin (name_key {{trgm}}.gin_trgm_ops);

  -- Every distinct 1- and 2-character substring of a lower-cased name.
  CREATE FUNCTION short_grams(name_key text) RETURNS text[]
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT gram), '{}') FROM (
      SELECT substr(name_key, i, 1) AS gram FROM generate_series(1, length(name_key)) AS i
      UNION ALL
      SELECT substr(name_key, i, 2) FROM generate_series(1, length(name_key) - 1) AS i
    ) AS grams
  $$;
  CREATE INDEX content_variants_by_short_gram ON content_variants USING gin (short_grams(name_key));

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
];
