// Every number of the directory's REST contract, with its unit in the name. The directory enforces
// them, the pserver checks the directory's answers against them, and chaos provokes their edges: all
// three read them here, so a limit changes in one place (docs/directory-api.md explains them).

/** Longest peer name (username), in characters of [A-Za-z0-9._-]. */
export const USERNAME_MAX_CHARS = 64;
/** Shortest password, in UTF-8 bytes. */
export const PASSWORD_MIN_BYTES = 8;
/** Longest password, in UTF-8 bytes (scrypt reads all of it: a bound keeps logins cheap). */
export const PASSWORD_MAX_BYTES = 1024;
/** Longest advertised pserver address, in characters. */
export const ADDRESS_MAX_CHARS = 2048;
/** Ports an advertised address may name. */
export const MIN_PORT = 1;
export const MAX_PORT = 65_535;

/** Longest file name, in UTF-8 bytes: what common file systems store in one path component. */
export const FILE_NAME_MAX_BYTES = 255;
/** Piece sizes a file may be published with. */
export const MIN_PIECE_SIZE_BYTES = 16 * 1024;
export const MAX_PIECE_SIZE_BYTES = 16 * 1024 * 1024;
/** Largest file size: the largest integer a JSON number carries exactly. */
export const MAX_FILE_SIZE_BYTES = Number.MAX_SAFE_INTEGER;
/**
 * Files named in one index request (for PATCH, `add` and `remove` together). A larger index goes in
 * pages (a PUT, then PATCHes): parsing and checking one request must never hold the directory's event
 * loop for long (docs/scale.md). Was 10,000 until 2026-12; a client sending more gets 400.
 */
export const MAX_FILES_PER_REQUEST = 1_000;
/** Files one peer may hold in the index in total (PATCH could otherwise grow an index without bound). */
export const MAX_FILES_PER_PEER = 100_000;

/** Search paging. */
export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 100;
/** Deeper pages would scan without bound; nobody pages 500 screens of results. */
export const SEARCH_MAX_OFFSET = 10_000;
/** Longest search query, in UTF-8 bytes. */
export const SEARCH_QUERY_MAX_BYTES = 255;
/** When a query matches many names, `total` is a lower bound counted over at most this many of them. */
export const SEARCH_TOTAL_COUNT_CAP = 500;
/** Holders listed per result (freshest heartbeat first); `holderCount` gives the full number. */
export const MAX_HOLDERS_PER_RESULT = 100;

/** Heartbeat intervals a directory may ask for (and be configured with). */
export const MIN_HEARTBEAT_INTERVAL_MS = 100;
export const MAX_HEARTBEAT_INTERVAL_MS = 3_600_000;
/** Longest session time to live a directory may grant; the shortest is MIN_HEARTBEAT_INTERVAL_MS. */
export const MAX_SESSION_TTL_MS = 86_400_000;
/** How long a push ticket can be redeemed. */
export const UPLOAD_TICKET_TTL_MS = 5 * 60_000;
/** Random bytes of the key a pserver makes per login to prove it answers at its advertised address. */
export const PROOF_KEY_BYTES = 32;
/** Random bytes of the nonce the directory sends to an advertised address to verify it. */
export const ADDRESS_NONCE_BYTES = 16;
/** Random bytes in a session token and in a push ticket. */
export const TOKEN_BYTES = 32;
/** Characters of a token or ticket: TOKEN_BYTES in base64url, without padding. */
export const TOKEN_CHARS = Math.ceil((TOKEN_BYTES * 4) / 3);

/** Request body limit of every route but the index routes (413 above it). */
export const BODY_LIMIT_BYTES = 64 * 1024;
/**
 * Request body limit of PUT and PATCH /index (413 above it). It, not the file count, bounds the
 * directory's work before validation: JSON.parse of a hostile 768 KiB body (60,000 keys in one object)
 * held the event loop ~100 ms here, of 256 KiB under 15 ms. A page of MAX_FILES_PER_REQUEST typical
 * entries (~170 bytes) fits; one of long names with escaped characters (up to ~650 bytes each) does
 * not: clients page by bytes as well as by count. Was 8 MiB until 2026-12.
 */
export const INDEX_BODY_LIMIT_BYTES = 256 * 1024;
