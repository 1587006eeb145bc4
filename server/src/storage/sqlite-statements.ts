// Every statement of the SQLite store, prepared once per connection. "Now" is a bound parameter: the
// store reads its clock once per method and passes it.

import type Database from "better-sqlite3";
import { acceptsPush } from "./push-policy-sql.js";
import { commonStatements, FILE_COLUMNS, SELECT_SESSIONS } from "./rows.js";

/** The SQLite store's prepared statements. */
export type SqliteStatements = ReturnType<typeof prepareStatements>;

/** The statements search reads with (sqlite-search.ts): all a search thread's connection prepares. */
export type SqliteSearchStatements = ReturnType<typeof prepareSearchStatements>;

/** Prepares the statements of search on `db`, which may be a read-only connection. */
export function prepareSearchStatements(db: Database.Database) {
  const get = (sql: string) => db.prepare(sql);
  const value = (sql: string) => db.prepare(sql).pluck();
  return {
    candidates: value("SELECT rowid FROM contents_fts WHERE contents_fts MATCH ? LIMIT ?"),
    candidatesInOrder: get(`
      SELECT c.content_id, c.name, c.size, c.piece_size FROM contents c
      WHERE c.id IN (SELECT value FROM json_each(?)) AND instr(c.name_key, ?) > 0
      ORDER BY c.name_key, c.content_id`),
    // The candidates' names only (no content id: a Buffer per row costs ~1 us), to filter and sort in JavaScript.
    candidateKeys: get("SELECT c.id, c.name_key FROM contents c WHERE c.id IN (SELECT value FROM json_each(?))").raw(),
    contentIdOfRow: value("SELECT content_id FROM contents WHERE id = ?"),
    contentOfRow: get(`SELECT content_id, name, size, piece_size FROM contents WHERE id = ?`),
    matchesInNameOrder: get(`
      SELECT c.content_id, c.name, c.size, c.piece_size FROM contents c INDEXED BY contents_by_name
      WHERE instr(c.name_key, ?) > 0 ORDER BY c.name_key, c.content_id`),
    firstMatches: value(`
      SELECT c.content_id FROM contents c
      WHERE c.id IN (SELECT rowid FROM contents_fts WHERE contents_fts MATCH ? LIMIT ?) AND instr(c.name_key, ?) > 0`),
    countMatches: value("SELECT count(*) FROM (SELECT rowid FROM contents_fts WHERE contents_fts MATCH ? LIMIT ?)"),
    contentIsLive: value(`
      SELECT EXISTS (SELECT 1 FROM files f JOIN sessions s ON s.user_id = f.user_id
        WHERE f.content_id = ? AND s.expires_at > ?)`),
    contentsOfExpiredSessions: value(`
      SELECT f.content_id FROM sessions s JOIN files f ON f.user_id = s.user_id WHERE s.expires_at <= ? LIMIT ?`),
    liveHolders: get(`
      SELECT u.name, s.address, s.last_seen_at
      FROM files f JOIN sessions s ON s.user_id = f.user_id JOIN users u ON u.id = f.user_id
      WHERE f.content_id = ? AND s.expires_at > ?
      ORDER BY s.last_seen_at DESC, u.name`),
  };
}

/** Prepares every statement of the SQLite store on `db`. */
export function prepareStatements(db: Database.Database) {
  const get = (sql: string) => db.prepare(sql);
  const value = (sql: string) => db.prepare(sql).pluck();
  const common = commonStatements({ param: () => "?", now: "?" });
  return {
    ...prepareSearchStatements(db),
    ping: get("SELECT 1 FROM users LIMIT 1"),
    countUsers: value("SELECT count(*) FROM users"),
    countSessions: value("SELECT count(*) FROM sessions"),
    countLiveSessions: value("SELECT count(*) FROM sessions WHERE expires_at > ?"),
    countFiles: value("SELECT count(*) FROM files"),
    countContents: value("SELECT count(*) FROM contents"),

    findUser: get("SELECT id, name, password_hash FROM users WHERE name = ?"),
    userNameById: value("SELECT name FROM users WHERE id = ?"),
    insertUser: get(
      "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
    ),

    upsertSession: get(`
      INSERT INTO sessions (user_id, token_hash, address, created_at, last_seen_at, expires_at)
      VALUES ($userId, $tokenHash, $address, $now, $now, $expiresAt)
      ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, address = excluded.address,
        created_at = excluded.created_at, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at`),
    sessionByUser: get(`${SELECT_SESSIONS} WHERE s.user_id = ?`),
    liveSessionByToken: get(common.liveSessionByToken),
    liveUserIdByToken: value(common.liveUserIdByToken),
    liveSessionOfUser: value(common.liveSessionOfUser),
    renewSession: get("UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ? AND expires_at > ?"),
    deleteSession: get("DELETE FROM sessions WHERE user_id = ?"),
    livePeerByAddress: value(common.livePeerByAddress),
    deleteTicketsOfUser: get(common.deleteTicketsOfUser),
    deleteUser: get(common.deleteUser),
    liveExpiryByToken: value("SELECT expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?"),
    liveTokenOfUser: value("SELECT token_hash FROM sessions WHERE user_id = ? AND expires_at > ?"),
    // Ends a session at once (its token and its files stop counting), before its index is dropped in chunks.
    endSession: get("UPDATE sessions SET expires_at = ? WHERE user_id = ? AND expires_at > ?"),
    deleteEndedSession: get("DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?"),
    expiredSessions: value(common.expiredSessions),

    filesOfUser: get(common.filesOfUser),
    firstFilesOfUser: get(`SELECT ${FILE_COLUMNS} FROM files WHERE user_id = ? LIMIT ?`),
    fileOfUser: get(`SELECT ${FILE_COLUMNS} FROM files WHERE user_id = ? AND content_id = ?`),
    countFilesOfUser: value(common.countFilesOfUser),
    insertFile: get("INSERT INTO files (user_id, content_id, name, size, piece_size) VALUES (?, ?, ?, ?, ?)"),
    deleteFile: get("DELETE FROM files WHERE user_id = ? AND content_id = ?"),

    addVariantHolder: get(`
      INSERT INTO content_variants (content_id, name, size, piece_size, holders) VALUES (?, ?, ?, ?, 1)
      ON CONFLICT DO UPDATE SET holders = holders + 1`),
    removeVariantHolder: get(`
      UPDATE content_variants SET holders = holders - 1
      WHERE content_id = ? AND name = ? AND size = ? AND piece_size = ?`),
    deleteEmptyVariant: get(`
      DELETE FROM content_variants
      WHERE content_id = ? AND name = ? AND size = ? AND piece_size = ? AND holders <= 0`),
    bestVariant: get(`
      SELECT ${FILE_COLUMNS} FROM content_variants WHERE content_id = ?
      ORDER BY holders DESC, name, size, piece_size LIMIT 1`),

    contentNameKey: value("SELECT name_key FROM contents WHERE content_id = ?"),
    insertContent: get(`
      INSERT INTO contents (content_id, name, name_key, size, piece_size)
      VALUES ($contentId, $name, $nameKey, $size, $pieceSize)`),
    // The WHERE keeps unchanged rows (the common case) from rewriting the row and its trigram entry.
    updateContent: get(`
      UPDATE contents SET name = $name, name_key = $nameKey, size = $size, piece_size = $pieceSize
      WHERE content_id = $contentId
        AND (name IS NOT $name OR size IS NOT $size OR piece_size IS NOT $pieceSize)`),
    deleteContent: get("DELETE FROM contents WHERE content_id = ?"),
    contentById: get(`SELECT ${FILE_COLUMNS} FROM contents WHERE content_id = ?`),

    allTrigrams: get("SELECT term, doc FROM contents_fts_terms"),
    countTrigramSegments: value("SELECT count(DISTINCT segid) FROM contents_fts_idx"),
    mergeTrigramSegments: get("INSERT INTO contents_fts (contents_fts, rank) VALUES ('merge', ?)"),

    livePeers: get(common.livePeers),
    livePeerById: get(common.livePeerById),
    // Walks users in round-robin order and stops at the first eligible one (not a sort of all of them).
    leastRecentlyChosen: get(`
      SELECT u.id, u.name, s.address, s.last_seen_at FROM users u INDEXED BY users_by_last_chosen
      JOIN sessions s ON s.user_id = u.id
      WHERE s.expires_at > $now AND u.id != $from
        AND ${acceptsPush("$size", "EXISTS (SELECT 1 FROM json_each(p.senders) j WHERE j.value = $fromKey)")}
        AND NOT EXISTS (SELECT 1 FROM files f WHERE f.user_id = u.id AND f.content_id = $contentId)
        AND ($anyTicket OR NOT EXISTS (
          SELECT 1 FROM tickets t WHERE t.target_user_id = u.id AND t.content_id = $contentId
            AND t.redeemed_at IS NULL AND t.expires_at > $now))
      ORDER BY u.last_chosen_seq, u.name
      LIMIT 1`),
    markChosen: get(
      "UPDATE users SET last_chosen_seq = (SELECT max(last_chosen_seq) FROM users) + 1 WHERE id = ?",
    ),

    upsertPushPolicy: get(`
      INSERT INTO push_policies (user_id, accept, senders, max_file_bytes, quota_bytes)
      VALUES ($userId, $accept, $senders, $maxFileBytes, $quotaBytes)
      ON CONFLICT (user_id) DO UPDATE SET accept = excluded.accept, senders = excluded.senders,
        max_file_bytes = excluded.max_file_bytes, quota_bytes = excluded.quota_bytes`),
    pushPolicyOfUser: get("SELECT accept, senders, max_file_bytes, quota_bytes FROM push_policies WHERE user_id = ?"),

    insertTicket: get(`
      INSERT INTO tickets (ticket_hash, content_id, size, from_user_id, target_user_id, created_at, expires_at)
      VALUES ($ticketHash, $contentId, $size, $from, $target, $now, $expiresAt)`),
    ticketByHash: get(`
      SELECT content_id, size, from_user_id, target_user_id, expires_at, redeemed_at
      FROM tickets WHERE ticket_hash = ?`),
    redeemTicket: get("UPDATE tickets SET redeemed_at = ? WHERE ticket_hash = ? AND redeemed_at IS NULL"),
    deleteExpiredTickets: get(common.deleteExpiredTickets),
  };
}
