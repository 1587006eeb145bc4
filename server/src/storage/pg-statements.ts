// Every statement of the PostgreSQL store, written once per clock: "now" is an SQL expression (the
// database's now() in production), so every instance on the database agrees on who is live.

import { acceptsPush } from "./push-policy-sql.js";
import { commonStatements, contentIdBytes, contentIdText, FILE_COLUMNS, type FileRow } from "./rows.js";
import type { ContentRecord, FileEntry, PeerRecord } from "./store.js";

/** The content ids of the files of the peers whose user ids are $1. */
const contentIdsOfUsers = "SELECT content_id FROM files WHERE user_id = ANY($1::bigint[])";

/** The PostgreSQL store's statements. */
export type PgStatements = ReturnType<typeof pgStatements>;

/** Every statement, with `now` the SQL expression of the store's clock. */
export function pgStatements(now: string) {
  const common = commonStatements({ param: (n) => `$${n}`, now });
  const liveHolder = `EXISTS (SELECT 1 FROM files f JOIN sessions s ON s.user_id = f.user_id
    WHERE f.content_id = v.content_id AND s.expires_at > ${now})`;
  const peerOf = (lock: string) => `
    SELECT u.id, u.name, s.address, s.last_seen_at FROM users u JOIN sessions s ON s.user_id = u.id
    WHERE s.expires_at > ${now} AND u.id <> $1
      AND ${acceptsPush("$4", "$5 = ANY (p.senders)")}
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

    lockPeer: "SELECT pg_advisory_xact_lock($1, $2::int)",
    tryLockPeers: "SELECT user_id FROM unnest($2::bigint[]) AS user_id WHERE pg_try_advisory_xact_lock($1, user_id::int)",
    upsertSession: `
      INSERT INTO sessions AS s (user_id, token_hash, address, created_at, last_seen_at, expires_at)
      VALUES ($1, $2, $3, ${now}, ${now}, ${now} + $4::float8 * interval '1 millisecond')
      ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, address = excluded.address,
        created_at = excluded.created_at, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at
      RETURNING s.user_id, (SELECT name FROM users WHERE id = s.user_id) AS name, s.address, s.last_seen_at, s.expires_at`,
    liveSessionByToken: { name: "live-session-by-token", text: common.liveSessionByToken },
    liveUserIdByToken: common.liveUserIdByToken,
    liveSessionOfUser: common.liveSessionOfUser,
    deleteLiveSession: `DELETE FROM sessions WHERE token_hash = $1 AND expires_at > ${now}`,
    // Live sessions among the tokens; those with less than their TTL left (all of them when the slack
    // is 0) get TTL + slack from now; the others are only read (no row version, no WAL, no index entry).
    renewSessions: {
      name: "renew-sessions",
      text: `
        WITH live AS (
          SELECT s.user_id, s.token_hash, s.expires_at, r.ttl_ms, r.slack_ms
          FROM unnest($1::bytea[], $2::float8[], $3::float8[]) AS r (token_hash, ttl_ms, slack_ms)
          JOIN sessions s ON s.token_hash = r.token_hash
          WHERE s.expires_at > ${now}
        ), renewed AS (
          UPDATE sessions AS s SET last_seen_at = ${now}, expires_at = ${now} + (l.ttl_ms + l.slack_ms) * interval '1 millisecond'
          FROM live l
          WHERE s.user_id = l.user_id AND s.expires_at > ${now}
            AND (l.slack_ms = 0 OR l.expires_at < ${now} + l.ttl_ms * interval '1 millisecond')
          RETURNING s.token_hash, s.expires_at
        )
        -- A session that needed the write and did not get it (closed meanwhile) is not answered.
        SELECT l.token_hash, coalesce(n.expires_at, l.expires_at) AS expires_at
        FROM live l LEFT JOIN renewed n ON n.token_hash = l.token_hash
        WHERE n.token_hash IS NOT NULL OR NOT (l.slack_ms = 0 OR l.expires_at < ${now} + l.ttl_ms * interval '1 millisecond')`,
    },
    expiredSessions: common.expiredSessions,
    deleteExpiredSessions: `DELETE FROM sessions WHERE user_id = ANY($1::bigint[]) AND expires_at <= ${now} RETURNING user_id`,

    filesOfUser: common.filesOfUser,
    someFilesOfUser: `SELECT ${FILE_COLUMNS} FROM files WHERE user_id = $1 AND content_id = ANY($2::bytea[])`,
    fileOfUser: "SELECT 1 FROM files WHERE user_id = $1 AND content_id = $2",
    countFilesOfUser: common.countFilesOfUser,
    deleteFiles: "DELETE FROM files WHERE user_id = $1 AND content_id = ANY($2::bytea[])",
    insertFiles: `INSERT INTO files (user_id, content_id, name, size, piece_size)
      SELECT $1, * FROM unnest($2::bytea[], $3::text[], $4::bigint[], $5::int[])`,

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
    // By content id only (the primary key's prefix): the join on all four columns of an unnest() was
    // planned as a scan per row and took ~56 s for the 10,000 counters of one peer's logout at 1M rows.
    // A counter at 0 is never left behind, and the contents are locked, so this deletes the same rows.
    deleteEmptyVariants: "DELETE FROM content_variants WHERE content_id = ANY($1::bytea[]) AND holders <= 0",
    // The variant most holders use, ties to the smallest (name, size, piece size); no variant: no content.
    refreshContents: refreshContents("$1::bytea[]"),

    // A whole index dropped (logout, login, sweep, user deleted) without its rows ever reaching
    // JavaScript: the peers' files stay in place while their holders are subtracted, and are deleted
    // last. Parsing the 10,000 rows of one peer and sending them back as arrays held the event loop
    // for ~90 ms per logout at 1M rows (bench/stores.ts). $1 is the peers' user ids; hold their locks.
    // Locks the contents rows in content-id order, as lockContents does (they exist while held).
    lockContentsOfUsers: `
      SELECT count(*)::int AS n FROM (
        SELECT 1 FROM contents c WHERE c.content_id = ANY(ARRAY(${contentIdsOfUsers}))
        ORDER BY c.content_id FOR NO KEY UPDATE OF c
      ) AS locked`,
    subtractHoldersOfUsers: `
      UPDATE content_variants v SET holders = v.holders - d.holders
      FROM (
        SELECT ${FILE_COLUMNS}, count(*)::int AS holders FROM files WHERE user_id = ANY($1::bigint[]) GROUP BY 1, 2, 3, 4
      ) AS d
      -- The first condition gives the planner the primary key's prefix, so it never scans every counter.
      WHERE v.content_id = ANY(ARRAY(${contentIdsOfUsers}))
        AND v.content_id = d.content_id AND v.name = d.name AND v.size = d.size AND v.piece_size = d.piece_size`,
    deleteEmptyVariantsOfUsers: `DELETE FROM content_variants WHERE content_id = ANY(ARRAY(${contentIdsOfUsers})) AND holders <= 0`,
    refreshContentsOfUsers: refreshContents(`ARRAY(${contentIdsOfUsers})`),
    deleteFilesOfUsers: "DELETE FROM files WHERE user_id = ANY($1::bigint[])",

    // Whether some session expired and is not swept yet is asked once per statement (an InitPlan):
    // when none did, OR stops there and every content is live without a probe.
    search: searchStatements(`NOT EXISTS (SELECT 1 FROM sessions WHERE expires_at <= ${now})`, liveHolder),
    // Named, so each connection plans it once: its plan does not depend on the values (an index probe
    // per content id), and planning it cost more than running it (1.7 ms against 0.8 ms for a page of
    // 20 at 1M rows, EXPLAIN ANALYZE, 2026-12-05).
    contentsWithHolders: {
      name: "contents-with-holders",
      text: `
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
    },

    livePeers: common.livePeers,
    livePeerById: common.livePeerById,
    leastRecentlyChosenSkipLocked: peerOf("SKIP LOCKED"),
    leastRecentlyChosen: peerOf(""),
    markChosen: "UPDATE users SET last_chosen_seq = nextval('upload_target_seq') WHERE id = $1",

    upsertPushPolicy: `
      INSERT INTO push_policies (user_id, accept, senders, max_file_bytes, quota_bytes) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (user_id) DO UPDATE SET accept = excluded.accept, senders = excluded.senders,
        max_file_bytes = excluded.max_file_bytes, quota_bytes = excluded.quota_bytes`,
    pushPolicyOfUser: "SELECT accept, senders, max_file_bytes, quota_bytes FROM push_policies WHERE user_id = $1",

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
    deleteExpiredTickets: common.deleteExpiredTickets,
    livePeerByAddress: common.livePeerByAddress,
    deleteTicketsOfUser: common.deleteTicketsOfUser,
    deleteUser: common.deleteUser,

    stats: `SELECT
      (SELECT count(*) FROM users) AS users,
      (SELECT count(*) FROM sessions) AS sessions,
      (SELECT count(*) FROM sessions WHERE expires_at > ${now}) AS "livePeers",
      (SELECT count(*) FROM files) AS "indexedFiles",
      (SELECT count(*) FROM contents) AS contents`,
  };
}

/**
 * Points each of the contents (a bytea[] expression) at the variant most holders use, or deletes it
 * when no variant is left. The WHERE keeps unchanged rows (the common case) from being rewritten with
 * their index entries.
 */
function refreshContents(contentIds: string): string {
  return `
    WITH best AS (
      SELECT DISTINCT ON (content_id) content_id, name, name_key, size, piece_size FROM content_variants
      WHERE content_id = ANY(${contentIds})
      ORDER BY content_id, holders DESC, name, size, piece_size
    ), renamed AS (
      UPDATE contents c SET name = b.name, name_key = b.name_key, size = b.size, piece_size = b.piece_size
      FROM best b
      WHERE c.content_id = b.content_id AND (c.name, c.size, c.piece_size) IS DISTINCT FROM (b.name, b.size, b.piece_size)
    )
    DELETE FROM contents c WHERE c.content_id = ANY(${contentIds}) AND NOT EXISTS (SELECT 1 FROM best b WHERE b.content_id = c.content_id)`;
}

/**
 * The search statements: `allLive` tells that no session has expired unswept (then every holder is
 * live), `liveHolder` whether content v has a live holder. $1 is the index condition's value (see
 * indexCondition) where there is one, `key` the lower-cased query.
 */
function searchStatements(allLive: string, liveHolder: string) {
  const live = ` AND (${allLive} OR ${liveHolder})`;
  return {
    // The first window: the matches among the first $2 names in name order (index-only: name_key is in
    // the index), all of them counted (a lower bound of the total, and the density the next step reads),
    // the page among them, and how many names there are (estimated). One round trip where a page, then a count, took two.
    countAndPageInWindow: `
      WITH matches AS MATERIALIZED (
        SELECT v.content_id, v.name_key FROM (
          SELECT content_id, name_key FROM contents ORDER BY name_key, content_id LIMIT $2
        ) AS v
        WHERE strpos(v.name_key, $1) > 0${live}
      )
      SELECT (SELECT count(*) FROM matches)::int AS n,
        ARRAY(SELECT content_id FROM matches ORDER BY name_key, content_id OFFSET $3 LIMIT $4) AS page,
        -- The planner's estimate of the number of names (-1 before any ANALYZE): what a density means.
        (SELECT reltuples FROM pg_class WHERE oid = 'contents'::regclass)::float8 AS names`,
    // The first matches among the first $2 names in name order; stops as soon as the page is full.
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
    // Up to $3 names containing the query, from the GIN index (materialized: never a walk of all names):
    // how many there are, how many of them are live, and the page among the live ones in name order
    // (used only when there are not too many; the page alone, not every match, travels: parsing up to
    // 1,000 content ids as hex text cost the directory 1-2 ms of CPU); and whether every holder is live
    // (then those n are live matches: search needs no other count). $4, $5: the page's offset and size.
    fewMatches: (index: string) => `
      WITH candidates AS MATERIALIZED (
        SELECT v.content_id, v.name_key FROM contents v WHERE ${index} AND strpos(v.name_key, $2) > 0 LIMIT $3
      ), matches AS MATERIALIZED (
        SELECT v.content_id, v.name_key FROM candidates v WHERE true${live}
      )
      SELECT (SELECT count(*) FROM candidates)::int AS n, ${allLive} AS all_live, (SELECT count(*) FROM matches)::int AS live,
        ARRAY(SELECT content_id FROM matches ORDER BY name_key, content_id OFFSET $4 LIMIT $5) AS page`,
    countAmongCandidates: (index: string) => `
      SELECT count(*)::int AS n FROM (
        SELECT v.content_id FROM contents v WHERE ${index} AND strpos(v.name_key, $2) > 0 LIMIT $3
      ) AS v WHERE true${live}`,
  };
}

/** The columns of `files` rows for unnest(): content ids, names, sizes, piece sizes. */
export function fileColumns(entries: readonly FileEntry[]): [Buffer[], string[], number[], number[]] {
  return [
    entries.map((entry) => contentIdBytes(entry.contentId)),
    entries.map((entry) => entry.name),
    entries.map((entry) => entry.size),
    entries.map((entry) => entry.pieceSize),
  ];
}

/** A row of contentsWithHolders: a content with one of its live holders (null columns: none). */
export interface HolderRow {
  content_id: Buffer;
  holder_name: string;
  address: string;
  last_seen_at: Date;
  holder_count: number;
}

/** Rows of contentsWithHolders (one per holder, or one with no holder) as records, in their order. */
export function groupHolders(rows: ReadonlyArray<FileRow & HolderRow>): ContentRecord[] {
  const records = new Map<string, ContentRecord>();
  for (const row of rows) {
    const hex = contentIdText(row.content_id);
    let record = records.get(hex);
    if (!record) {
      record = { contentId: hex, name: row.name, size: row.size, pieceSize: row.piece_size, holders: [], holderCount: row.holder_count ?? 0 };
      records.set(hex, record);
    }
    if (row.holder_name !== null) record.holders.push(toHolder(row));
  }
  return [...records.values()];
}

function toHolder(row: HolderRow): PeerRecord {
  return { name: row.holder_name, address: row.address, lastSeenAt: row.last_seen_at };
}
