// The directory's storage interface. Everything the directory remembers goes through it, so a restart
// loses nothing and a second implementation (PostgreSQL, several directory instances on one database)
// can replace the embedded SQLite one without touching routes or the directory service.
//
// Rules every implementation keeps:
// - The store owns "now". Liveness (a session is live while `expiresAt > now`), expiry of tickets and
//   every timestamp it returns come from one clock source inside the store (SQLite: the injected process
//   clock; PostgreSQL: the database's `now()`), never from a caller, so two instances cannot disagree.
// - Round-robin state (who was chosen last for an upload) and tickets live in the store, not in memory.
// - Each method is one atomic unit (one transaction): a crash leaves either all of it or none of it.
//   A store may write a renewal it has already answered a little later (the SQLite store batches
//   heartbeats), as long as every later call sees it.
// - Token and ticket values never reach the store; only their SHA-256 hashes (hex) do.

/** A registered account. */
export interface UserRecord {
  /** Store-assigned identifier. */
  id: number;
  /** Username as first registered (unique case-insensitively). */
  name: string;
  /** Self-describing scrypt hash (see passwords.ts); never the password. */
  passwordHash: string;
}

/** An open session: one per user; the peer is live while `expiresAt` is in the future. */
export interface SessionRecord {
  /** The account this session belongs to. */
  userId: number;
  /** The peer's name (its username). */
  name: string;
  /** The pserver address the peer advertised at login. */
  address: string;
  /** Last login or heartbeat, by the store's clock. */
  lastSeenAt: Date;
  /** When the session stops being live unless renewed. */
  expiresAt: Date;
}

/** One file in a peer's index. */
export interface FileEntry {
  /** File name as the peer calls it (validated at the edge: 1-255 bytes, no separators or controls). */
  name: string;
  /** Size in bytes. */
  size: number;
  /** SHA-256 of the content, 64 lower-case hex characters. */
  contentId: string;
  /** Piece size in bytes. */
  pieceSize: number;
}

/** A live peer as others see it. */
export interface PeerRecord {
  /** The peer's name. */
  name: string;
  /** Its pserver address. */
  address: string;
  /** Its last login or heartbeat, by the store's clock. */
  lastSeenAt: Date;
}

/** One content id with the live peers that hold it. */
export interface ContentRecord {
  /** SHA-256 of the content, 64 lower-case hex characters. */
  contentId: string;
  /** The name (with size and piece size) most holders use; ties go to the smallest name. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Piece size in bytes. */
  pieceSize: number;
  /** Live holders, freshest heartbeat first, at most `maxHolders` of them. */
  holders: PeerRecord[];
  /** Number of live holders (may exceed `holders.length`). */
  holderCount: number;
}

/** One page of name-search results. */
export interface SearchPage {
  /** Results ordered by lower-cased name, then content id. */
  results: ContentRecord[];
  /** Number of results, exact when `totalExact`, else a lower bound (the count stops at a cap). */
  total: number;
  /** Whether `total` is the exact count. */
  totalExact: boolean;
  /** Whether results exist past this page. */
  hasMore: boolean;
}

/** Paging and bounds of a search. */
export interface SearchOptions {
  /** Results per page. */
  limit: number;
  /** Results to skip. */
  offset: number;
  /** Holders listed per result. */
  maxHolders: number;
  /** `total` is counted exactly up to this many results. */
  totalCap: number;
}

/** Outcome of an index change: the peer's file count, or why nothing changed. */
export type IndexChange =
  | { ok: true; count: number }
  | { ok: false; reason: "too-many-files"; count: number }
  | { ok: false; reason: "session-ended" };

/** What the caller of chooseUploadTarget wants. */
export interface UploadTargetRequest {
  /** The uploading peer (never chosen). */
  fromUserId: number;
  /** Content to push. */
  contentId: string;
  /** Its size in bytes (bound into the ticket). */
  size: number;
  /** A peer named by the user, instead of letting the store pick. */
  targetName?: string | undefined;
  /** The uploading peer's name: only peers whose push policy takes it are chosen. */
  fromName: string;
  /** SHA-256 (hex) of the ticket handed to the uploader. */
  ticketHash: string;
  /** How long the ticket can be redeemed. */
  ticketTtlMs: number;
}

/** Outcome of chooseUploadTarget; every refusal says why. */
export type UploadTargetResult =
  | { kind: "chosen"; peer: PeerRecord; expiresAt: Date }
  | { kind: "no-eligible-peer" }
  | { kind: "target-not-live" }
  | { kind: "target-is-caller" }
  | { kind: "target-holds-content" }
  | { kind: "target-refuses"; policy: PushPolicyRecord | null };

/** Whom a peer takes pushes from, and how much (PUT /push-policy). No row: it takes none. */
export interface PushPolicyRecord {
  /** nobody, the peers in `from`, or anyone. */
  accept: "nobody" | "listed" | "anyone";
  /** Lower-cased peer names, for "listed". */
  from: string[];
  /** Largest single file taken, in bytes. */
  maxFileBytes: number;
  /** Bytes of pushes the peer still takes now. */
  quotaBytes: number;
}

/** What the receiving peer presents. */
export interface RedeemRequest {
  /** SHA-256 (hex) of the presented ticket. */
  ticketHash: string;
  /** The redeeming peer (must be the ticket's target). */
  userId: number;
  /** The content being pushed (must be the ticket's). */
  contentId: string;
}

/** Outcome of redeemTicket. Unknown, expired, or issued for another peer or content are all "not-found". */
export type RedeemResult =
  | { kind: "redeemed"; contentId: string; size: number; from: string }
  | { kind: "not-found" }
  | { kind: "already-redeemed" };

/** What one sweep removed. */
export interface SweepResult {
  /** Expired sessions deleted (with their peers' index rows). */
  sessions: number;
  /** Index rows deleted with them. */
  files: number;
  /** Expired tickets deleted. */
  tickets: number;
}

/** Gauges for /metrics. */
export interface StoreStats {
  /** Registered accounts. */
  users: number;
  /** Session rows stored (live, or expired and not yet swept). */
  sessions: number;
  /** Live peers. */
  livePeers: number;
  /** Index rows stored (one per peer and content id). */
  indexedFiles: number;
  /** Distinct content ids stored. */
  contents: number;
}

/** Everything the directory stores: accounts, sessions, indexes, upload round-robin state and tickets. */
export interface DirectoryStore {
  /** Finds an account by name, case-insensitively; null when none. */
  findUser(name: string): Promise<UserRecord | null>;
  /** Registers an account; null when the name is already taken (a concurrent first login won). */
  createUser(name: string, passwordHash: string): Promise<UserRecord | null>;
  /** Opens the user's session, replacing any previous one; the peer starts with an empty index. */
  openSession(userId: number, tokenHash: string, address: string, ttlMs: number): Promise<SessionRecord>;
  /** The live session with this token hash; null when unknown, expired or logged out. */
  findLiveSession(tokenHash: string): Promise<SessionRecord | null>;
  /**
   * Keeps a live session live for at least `ttlMs` from now and returns its expiry; null when it is
   * not live. When less than `ttlMs` is left it writes `ttlMs + slackMs` from now (and the last-seen
   * time); otherwise it writes nothing and answers the expiry it has. With `slackMs` 0 every renewal
   * writes `ttlMs` from now.
   */
  renewSession(tokenHash: string, ttlMs: number, slackMs?: number): Promise<Date | null>;
  /** Ends a live session and drops its peer's index at once; false when it was not live. */
  closeSession(tokenHash: string): Promise<boolean>;
  /** Replaces the user's whole index (later duplicates of a content id win). */
  replaceFiles(userId: number, files: readonly FileEntry[], maxFiles: number): Promise<IndexChange>;
  /** Removes content ids, then adds or renames entries, in one step. */
  updateFiles(
    userId: number,
    add: readonly FileEntry[],
    remove: readonly string[],
    maxFiles: number,
  ): Promise<IndexChange>;
  /** Contents whose name contains `query` case-insensitively and that have a live holder. */
  searchByName(query: string, options: SearchOptions): Promise<SearchPage>;
  /** One content id with its live holders; null when no live peer holds it. */
  findContent(contentId: string, maxHolders: number): Promise<ContentRecord | null>;
  /** Live peers ordered by name. */
  listLivePeers(): Promise<PeerRecord[]>;
  /** The name of a live peer whose session has exactly this address; null when none. */
  findLivePeerByAddress(address: string): Promise<string | null>;
  /**
   * Deletes an account and everything kept for it (session, index rows, tickets from or to it);
   * returns the index rows deleted, or null when the account does not exist.
   */
  deleteUser(userId: number): Promise<number | null>;
  /** Picks a push target (least recently chosen first) and records its ticket, atomically. */
  chooseUploadTarget(request: UploadTargetRequest): Promise<UploadTargetResult>;
  /** Stores the user's push policy, replacing the previous one. */
  setPushPolicy(userId: number, policy: PushPolicyRecord): Promise<void>;
  /** The user's push policy; null when it never sent one (it takes no push). */
  findPushPolicy(userId: number): Promise<PushPolicyRecord | null>;
  /** Marks a ticket redeemed if it is live and meant for this peer and content; single use. */
  redeemTicket(request: RedeemRequest): Promise<RedeemResult>;
  /** Deletes up to `maxSessions` expired sessions with their index rows, and expired tickets. */
  sweep(maxSessions: number): Promise<SweepResult>;
  /** Counts for /metrics. */
  stats(): Promise<StoreStats>;
  /** Resolves when the database answers a query; rejects otherwise. */
  ping(): Promise<void>;
  /** Releases the database. */
  close(): Promise<void>;
}
