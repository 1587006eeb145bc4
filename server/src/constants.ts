// Every number the directory uses, with its unit in the name. Config defaults live here too;
// config.ts validates overrides against the bounds below. The numbers of the REST contract (name and
// size bounds, paging, body limits, heartbeat bounds, ticket lifetime) are @p2p/directory-api's.

/** Port the directory listens on when none is configured. */
export const DEFAULT_PORT = 8080;
/** Interface the directory listens on when none is configured: loopback, so nothing is exposed by accident. */
export const DEFAULT_HOST = "127.0.0.1";
/** Directory (under the working directory) holding the SQLite database when none is configured. */
export const DEFAULT_DATA_DIR = ".data/directory";
/** PostgreSQL schema of the directory's tables when none is configured. */
export const DEFAULT_DATABASE_SCHEMA = "public";
/** File name of the SQLite database inside the data directory. */
export const DATABASE_FILE_NAME = "directory.sqlite";

/** How often a pserver is asked to send a heartbeat. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
/** A session expires after this many heartbeat intervals without a heartbeat: a peer may miss two before it is dropped. */
export const SESSION_TTL_HEARTBEAT_INTERVALS = 3;
/**
 * Default lease slack, in heartbeat intervals (config leaseSlackMs): a renewal writes a lease of TTL +
 * slack and the next ones write nothing while a TTL is left, so one heartbeat in two writes; a dead
 * peer stays listed at most TTL + one interval after its last heartbeat (40 s at the defaults, not 30 s).
 */
export const LEASE_SLACK_HEARTBEAT_INTERVALS = 1;
/** How often expired sessions, their index rows and expired tickets are deleted. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** Expired sessions removed per sweep transaction, so one sweep never blocks the event loop for long. */
export const SWEEP_BATCH_SESSIONS = 200;

/** Requests per minute from one IP address; generous so 1,000 simulated peers on one host are not throttled. 0 disables. */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 60_000;
/** Requests per minute on one session (bearer token). 0 disables. */
export const DEFAULT_SESSION_RATE_LIMIT_PER_MINUTE = 1_200;
/** Window of both rate limits. */
export const RATE_LIMIT_WINDOW_MS = 60_000;
/** Keys (sessions, IPs) a rate limit tracks in one window: a memory bound against made-up tokens. */
export const RATE_LIMIT_MAX_KEYS = 200_000;

/** scrypt parameters: N = 2^cost, r, p. ~90 ms per hash at cost 15 on this project's 2-core machines. */
export const DEFAULT_SCRYPT_COST_LOG2 = 15;
export const MIN_SCRYPT_COST_LOG2 = 10;
export const MAX_SCRYPT_COST_LOG2 = 20;
export const SCRYPT_BLOCK_SIZE = 8;
export const SCRYPT_PARALLELISM = 1;
export const SCRYPT_KEY_BYTES = 32;
export const SCRYPT_SALT_BYTES = 16;

/** How long a graceful shutdown may take before the process exits anyway. */
export const SHUTDOWN_GRACE_MS = 10_000;
/** SQLite memory-maps up to this much of the database file (search touches pages all over it). */
export const SQLITE_MMAP_BYTES = 1024 * 1024 * 1024;
/** SQLite page cache per connection. */
export const SQLITE_CACHE_KIB = 64 * 1024;
/**
 * SQLite search reads all candidate names (exact total) when the trigram index returns at most this
 * many; above it, it walks the name index in order (sqlite-search.ts says what each costs).
 */
export const SQLITE_SEARCH_FEW_CANDIDATES = 1_000;
/** Above this many index rows held by expired, unswept peers, SQLite search checks every result's holders. */
export const SQLITE_SEARCH_DEAD_HOLDINGS_CAP = 20_000;
/**
 * Reading one candidate row by id (and sorting it by name) costs about as much as walking this many
 * names of the name index: ~3 us against ~0.1 us at 1M rows (measured 2026-12-05). SQLite search
 * walks instead of reading every candidate when the walk to the end of the page should be cheaper.
 */
export const SQLITE_SEARCH_CANDIDATE_READ_NAMES = 30;
/** At most this many of a long query's trigrams go into the AND that stands in for the phrase. */
export const SQLITE_SEARCH_MAX_AND_TRIGRAMS = 4;
/** Trigrams join the AND until it should return about this many candidates. */
export const SQLITE_SEARCH_EXPECTED_CANDIDATES = 200;
/** A short query with many matches counts its lower-bound total over its commonest trigram(s) only: cheap, and a subset. */
export const SQLITE_SEARCH_SHORT_QUERY_COUNT_TERMS = 1;
/**
 * Worker threads that run SQLite searches on read-only connections of their own, off the event loop
 * (sqlite-search-threads.ts). None by default: on this project's 2-core machines they did not lower the
 * search p99 and cost 13% more CPU per search (docs/scale.md); on more cores, 2 uses them.
 */
export const SQLITE_SEARCH_THREADS = 0;
/** The sweep merges the trigram index's segments when it has more than this many. */
export const FTS_MAX_SEGMENTS = 4;
/**
 * Pages of trigram-index merging per sweep: ~16 ms of work on this project's machines, one transaction
 * on the event loop (500 pages took ~40 ms, close to the 50 ms no request may be held up by).
 */
export const FTS_MERGE_PAGES_PER_SWEEP = 200;
/**
 * One SQLite transaction of a large index change (a publish, a logout, a sweep) stops taking files after
 * this long, commits and lets other requests run: at 1M index rows a file costs ~100-150 us. The commit
 * comes on top (FTS5 writes the chunk's trigram segment then, and sometimes merges segments): with
 * 4 ms the longest stretch a 10,000-file publish kept the event loop busy was ~20 ms of CPU (35 ms
 * once), with 10 ms ~39 ms, against the 50 ms no request may hold it.
 */
export const SQLITE_INDEX_CHUNK_MS = 4;
/** It takes at least this many files before looking at the clock, so that small changes stay one transaction. */
export const SQLITE_INDEX_CHUNK_MIN_STEPS = 16;
/** A chunked drop of a peer's index reads its rows this many at a time. */
export const SQLITE_INDEX_DROP_READ_ROWS = 256;
/** How often the background thread checkpoints SQLite's WAL into the database file. */
export const SQLITE_CHECKPOINT_INTERVAL_MS = 200;
/** The WAL file is cut back to this size when SQLite starts it over. */
export const SQLITE_WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** How long SQLite waits for a lock held by another connection. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;
/** Upper bound of the request-latency histogram buckets, in seconds. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/** PostgreSQL connections per directory instance (each instance has its own pool). */
export const PG_POOL_MAX_CONNECTIONS = 10;
/**
 * More connections per instance, for searches only: read-only, with sequential scans off (every search
 * statement is meant for an index; a scan of a million names never is), so a search needs no
 * transaction and no SET of its own: 3 round trips instead of 7 (under load each one waits its turn
 * for a core).
 */
export const PG_SEARCH_POOL_MAX_CONNECTIONS = 8;
/** More connections per instance, for heartbeats only (written without waiting for the WAL flush). */
export const PG_HEARTBEAT_POOL_MAX_CONNECTIONS = 3;
/** How long opening a PostgreSQL connection may take before the directory gives up on it. */
export const PG_CONNECT_TIMEOUT_MS = 10_000;
/** Server-side bound on one statement; a peer's full index (100,000 files) is far below it. */
export const PG_STATEMENT_TIMEOUT_MS = 60_000;
/** Attempts of a transaction that PostgreSQL aborted for a deadlock or a serialization failure. */
export const PG_TRANSACTION_ATTEMPTS = 5;
/** Wait before retrying such a transaction, times the attempt number (plus jitter of the same size). */
export const PG_RETRY_DELAY_MS = 5;
/** Search reads all candidate names (exact total) when the GIN index returns at most this many. */
export const PG_SEARCH_FEW_CANDIDATES = 1_000;
/**
 * Search first looks among this many names per result of a page (limit + 1), in name order: an
 * index-only walk of ~2,000 names costs ~0.5-1 ms; a first page filled there matches at least 1 name
 * in 100, and the matches' density there tells how far a deeper page lies.
 */
export const PG_SEARCH_WINDOW_ROWS_PER_RESULT = 100;
/**
 * When the first window holds some matches but not a page, search walks on in name order instead of
 * probing the GIN index if their density says a page lies within this many names: ~4 ms of index-only
 * scan at 1M rows (~0.2 us a name), less than the GIN probe of a query with over 1,000 candidates
 * (a heap page per candidate, ~5 ms) followed by that same walk.
 */
export const PG_SEARCH_MAX_WALK_ROWS = 20_000;
/** That walk goes on for this many times the names the density says, then gives up (the estimate was wrong). */
export const PG_SEARCH_WALK_MARGIN = 2;
/**
 * Search also walks, however far, when the first window's density over all names (the planner's
 * estimate of their number) says the GIN probe would find this many times PG_SEARCH_FEW_CANDIDATES.
 */
export const PG_SEARCH_MANY_CANDIDATES_MARGIN = 2;

// Login hardening (login/): limits on password guessing and registration, bounded scrypt work and
// address verification. Defaults are safe for a directory on the open network; each is a setting.

/** Failed logins of one account in LOGIN_FAILURE_WINDOW_MS before it is locked (for IPs it was never logged in from). */
export const DEFAULT_ACCOUNT_FAILURES_PER_WINDOW = 10;
/** Failed logins from one IP, over all accounts, in LOGIN_FAILURE_WINDOW_MS before that IP is locked. */
export const DEFAULT_IP_FAILURES_PER_WINDOW = 50;
/** The sliding window of both failure limits. */
export const DEFAULT_LOGIN_FAILURE_WINDOW_MS = 15 * 60_000;
/**
 * After half an account's or IP's allowed failures, each further attempt waits this long after the
 * previous failure, doubled per failure (1 s, 2 s, 4 s…), capped at the window: guessing slows down
 * before the lock, and an owner who mistypes a few times is not locked out.
 */
export const LOGIN_BACKOFF_BASE_MS = 1_000;
/** Accounts one IP may register per DEFAULT_REGISTRATION_WINDOW_MS. */
export const DEFAULT_REGISTRATIONS_PER_IP = 10;
/** The sliding window of the registration limit. */
export const DEFAULT_REGISTRATION_WINDOW_MS = 60 * 60_000;
/**
 * An IP an account logged in from successfully is its owner's usual address for this long: exempt from
 * that account's lock, and in the password queue's priority lane. Kept in memory: a restart forgets it.
 */
export const KNOWN_ADDRESS_TTL_MS = 30 * 24 * 60 * 60_000;
/** Usual IPs remembered per account (the oldest is forgotten first). */
export const KNOWN_ADDRESSES_PER_ACCOUNT = 8;
/** Accounts and IPs the login limits track at once: a memory bound against floods of made-up names. */
export const LOGIN_LIMIT_MAX_KEYS = 100_000;

/** scrypt hashes computed at once (libuv's pool has 4 threads; 2 leave room for the store and DNS). */
export const DEFAULT_PASSWORD_CONCURRENCY = 2;
/** Password checks waiting for a slot in the normal lane; more are refused with 503 and Retry-After. */
export const DEFAULT_PASSWORD_QUEUE_LENGTH = 32;
/** Password checks waiting in the priority lane (logins from an account's usual IP). */
export const PASSWORD_PRIORITY_QUEUE_LENGTH = 64;
/** Retry-After of a login refused because the password queue is full. */
export const PASSWORD_QUEUE_FULL_RETRY_AFTER_SECONDS = 2;

/** Attempts to call an advertised address back before a login is refused. */
export const ADDRESS_VERIFY_ATTEMPTS = 3;
/** Wait before the second attempt; doubled before each further one. */
export const ADDRESS_VERIFY_RETRY_DELAY_MS = 200;
/** One call-back attempt (connect, send, read the answer) may take this long. */
export const ADDRESS_VERIFY_TIMEOUT_MS = 3_000;
/** The Ping answer is read up to this many bytes; a longer one is refused. */
export const ADDRESS_VERIFY_MAX_RESPONSE_BYTES = 4 * 1024;

/** Host header values the allowlist remembers as accepted (plugins/host-allowlist.ts); past it, it starts over. */
export const ACCEPTED_HOST_VALUES_MAX = 64;
/** Leases the SQLite store remembers by token hash (sqlite-store.ts); past it, it starts over. */
export const SQLITE_LEASE_CACHE_MAX = 200_000;
