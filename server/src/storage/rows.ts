// What the SQLite and PostgreSQL stores share: the rows both read and how each becomes a domain record,
// the SQL both write alike (given each one's placeholders and clock), and the checks both make before
// changing an index. Each store keeps only what its database does differently.

import { CONTENT_ID_PREFIX } from "@p2p/directory-api";
import type { FileEntry, IndexChange, PeerRecord, SessionRecord, UserRecord } from "./store.js";

/** A timestamp column: milliseconds since the epoch (SQLite) or a Date (PostgreSQL). */
type Timestamp = number | Date;

/** A `users` row. */
export interface UserRow {
  id: number;
  name: string;
  password_hash: string;
}

/** A session with its user's name (SELECT_SESSIONS). */
export interface SessionRow {
  user_id: number;
  name: string;
  address: string;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
}

/** A `files` row without its owner (FILE_COLUMNS). */
export interface FileRow {
  content_id: Buffer;
  name: string;
  size: number;
  piece_size: number;
}

/** A peer as others see it (SELECT_PEERS). */
export interface PeerRow {
  name: string;
  address: string;
  last_seen_at: Timestamp;
}

/** A peer with its user id (a push target being chosen). */
export interface ChosenPeerRow extends PeerRow {
  id: number;
}

/** The columns of a `files` row that describe the file (not its owner). */
export const FILE_COLUMNS = "content_id, name, size, piece_size";
/** SELECT of sessions with their user's name, as SessionRow; add the WHERE. */
export const SELECT_SESSIONS =
  "SELECT s.user_id, u.name, s.address, s.last_seen_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id";
/** The columns and tables of PeerRow (sessions `s` joined to users `u`); prefix with SELECT, add the WHERE. */
export const PEER_COLUMNS = "u.name, s.address, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id";

/** How a store writes SQL: its placeholders and its clock. */
export interface SqlDialect {
  /** The nth parameter, numbered as PostgreSQL numbers them (SQLite binds each `?` in order of appearance). */
  param(n: number): string;
  /** "Now": a bound parameter for SQLite (its clock is the process's), an SQL expression for PostgreSQL. */
  now: string;
}

/** The statements both stores write the same way, in `dialect`. */
export function commonStatements({ param, now }: SqlDialect) {
  return {
    liveSessionByToken: `${SELECT_SESSIONS} WHERE s.token_hash = ${param(1)} AND s.expires_at > ${now}`,
    liveUserIdByToken: `SELECT user_id FROM sessions WHERE token_hash = ${param(1)} AND expires_at > ${now}`,
    liveSessionOfUser: `SELECT 1 FROM sessions WHERE user_id = ${param(1)} AND expires_at > ${now}`,
    expiredSessions: `SELECT user_id FROM sessions WHERE expires_at <= ${now} ORDER BY expires_at LIMIT ${param(1)}`,
    filesOfUser: `SELECT ${FILE_COLUMNS} FROM files WHERE user_id = ${param(1)}`,
    countFilesOfUser: `SELECT count(*) AS count FROM files WHERE user_id = ${param(1)}`,
    livePeers: `SELECT ${PEER_COLUMNS} WHERE s.expires_at > ${now} ORDER BY u.name`,
    livePeerById: `SELECT u.id, ${PEER_COLUMNS} WHERE s.user_id = ${param(1)} AND s.expires_at > ${now}`,
    deleteExpiredTickets: `DELETE FROM tickets WHERE expires_at <= ${now}`,
  };
}

/** A user row as a record. */
export function toUser(row: UserRow): UserRecord {
  return { id: row.id, name: row.name, passwordHash: row.password_hash };
}

/** A session row as a record. */
export function toSession(row: SessionRow): SessionRecord {
  return {
    userId: row.user_id,
    name: row.name,
    address: row.address,
    lastSeenAt: asDate(row.last_seen_at),
    expiresAt: asDate(row.expires_at),
  };
}

/** A peer row as a record. */
export function toPeer(row: PeerRow): PeerRecord {
  return { name: row.name, address: row.address, lastSeenAt: asDate(row.last_seen_at) };
}

function asDate(value: Timestamp): Date {
  return value instanceof Date ? value : new Date(value);
}

/** A token hash as the 32 bytes both stores keep: half the size of the hex text. */
export function hexBytes(hex: string): Buffer {
  return Buffer.from(hex, "hex");
}

/** A content id (`m1_` + 64 hex, checked at the route) as the 32 bytes of its digest both stores keep. */
export function contentIdBytes(contentId: string): Buffer {
  return Buffer.from(contentId.slice(CONTENT_ID_PREFIX.length), "hex");
}

/** The content id text of a stored 32-byte digest. */
export function contentIdText(bytes: Buffer): string {
  return CONTENT_ID_PREFIX + bytes.toString("hex");
}

/**
 * What the migration that brings a schema to version 2 (in both stores) does: index rows, sessions and
 * tickets of whole-file content ids are dropped; peers get 401 at their next heartbeat, log in again and
 * republish their files under the new ids.
 */
export const CONTENT_ID_MIGRATION_NOTE =
  "dropped the index rows of content ids of an older version (whole-file SHA-256), with sessions and push tickets; peers log in again and republish their files under m1_ content ids";

/** Whether a stored file is the entry already (same name, size and piece size). */
export function sameEntry(row: FileRow, entry: FileEntry): boolean {
  return row.name === entry.name && row.size === entry.size && row.piece_size === entry.pieceSize;
}

/** Later entries for the same content id win, as if they were applied one after another. */
export function lastEntryPerContent(files: readonly FileEntry[]): Map<string, FileEntry> {
  const byContent = new Map<string, FileEntry>();
  for (const file of files) {
    byContent.delete(file.contentId);
    byContent.set(file.contentId, file);
  }
  return byContent;
}

/** The refusal of a whole-index replacement with more files than a peer may hold, or undefined. */
export function replacementTooLarge(wanted: ReadonlyMap<string, FileEntry>, maxFiles: number): IndexChange | undefined {
  return wanted.size > maxFiles ? { ok: false, reason: "too-many-files", count: wanted.size } : undefined;
}
