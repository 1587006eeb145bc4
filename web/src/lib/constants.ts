// Every tunable number of the pclient, with its unit in its name (ARCHITECTURE.md, Numbers).

/** Quiet time after the last keystroke before a search is sent. */
export const SEARCH_DEBOUNCE_MS = 250;
/** Results asked for per search page. */
export const SEARCH_PAGE_SIZE = 20;

/** ImportChunk calls in flight at once for one import. */
export const IMPORT_PARALLEL_CHUNKS = 4;
/** How often one chunk is retried after a transient failure before the import fails. */
export const IMPORT_CHUNK_RETRIES = 3;
/** First pause before retrying a chunk; doubles on every retry. */
export const IMPORT_CHUNK_RETRY_BASE_MS = 500;
/** First pause before reconnecting the event feed; doubles up to the maximum. */
export const EVENTS_RECONNECT_BASE_MS = 500;
/** Longest pause between two reconnect attempts of the event feed (and of the first status call). */
export const EVENTS_RECONNECT_MAX_MS = 8_000;

/** Period of the clock that refreshes "3 s ago" labels. */
export const CLOCK_TICK_MS = 1_000;
/** A heartbeat older than this is shown as late. */
export const HEARTBEAT_LATE_MS = 30_000;

/** sessionStorage key of the session token (a reload stays logged in, a new tab does not). */
export const SESSION_TOKEN_KEY = "p2p.session-token";
/** localStorage key of the file-to-content-id cache that lets a re-picked file skip hashing. */
export const HASH_CACHE_KEY = "p2p.hash-cache";
/** Entries kept in the hash cache. */
export const HASH_CACHE_MAX_ENTRIES = 200;

/** Characters of a content id shown in lists: `m1_` and 12 hex digits. */
export const SHORT_CONTENT_ID_CHARS = 15;

/** sessionStorage key prefix (then the peer name) of the transfer ids this tab cleared from its list. */
export const CLEARED_TRANSFERS_KEY_PREFIX = "p2p.cleared-transfers.";
/** Cleared transfer ids remembered per peer; the oldest give way (the pserver forgets them on restart). */
export const CLEARED_TRANSFERS_MAX = 500;
/** Transfers listed before "Show all": running ones come first, so they are the ones seen. */
export const TRANSFERS_SHOWN = 6;
/** sessionStorage key of the colour theme picked in this tab (system, light or dark). */
export const THEME_KEY = "p2p.theme";
/** sessionStorage key of the content a share link opened, kept across the login that may follow. */
export const SHARED_CONTENT_KEY = "p2p.shared-content";
/** How long "Copied" stays on a copy button. */
export const COPIED_NOTE_MS = 2_500;

// The browser peer (a tab that is a peer of its own, files in OPFS, served through a gateway).
/**
 * Pieces asked for in one FetchPieces call to a holder at most: the most a pserver takes (64 indexes),
 * or a fair share of the pieces left among the open calls when that is fewer (download-job.ts). Each
 * fetch costs the store worker far more than its bytes: reading 256 MiB in 32 calls of 8 MiB took 21
 * CPU-s/GiB of a worker, in 4 calls of 64 MiB 10 (docs/browser-peers.md, Speed).
 */
export const BROWSER_PEER_PIECES_PER_REQUEST = 64;
/**
 * FetchPieces calls open at once to one holder, so one holder's round trip never idles the line (2 -> 4
 * took a 1 GiB download from one pserver into OPFS from 64 to 76 MB/s; Chromium opens at most 6
 * HTTP/1.1 connections per host).
 */
export const BROWSER_PEER_STREAMS_PER_HOLDER = 4;
/** A holder that sends nothing for this long is dropped from the download like a failed one. */
export const BROWSER_PEER_PIECE_STALL_MS = 30_000;
/** Failed calls in a row after which a holder is given up for this round. */
export const BROWSER_PEER_HOLDER_FAILURES = 3;
/** Times the page is asked for fresh holders before a download with pieces missing fails. */
export const BROWSER_PEER_HOLDER_ROUNDS = 8;
/** Pause before asking for fresh holders again; doubles per round. */
export const BROWSER_PEER_HOLDER_ROUND_BASE_MS = 500;
/** How often a download flushes its data file and saves its bitfield (what a reload resumes from). */
export const BROWSER_PEER_SAVE_EVERY_MS = 500;
/**
 * A download also saves once this many pieces are verified but not saved, so a reload refetches at
 * most this many whatever the speed (at 150 MB/s, 500 ms alone would be 70 pieces). Each save is two
 * fdatasyncs: every 2 pieces they were 1.7 s of the store worker per GiB (docs/browser-peers.md, Speed).
 */
export const BROWSER_PEER_SAVE_EVERY_PIECES = 32;
/**
 * Piece fetchers of a download at most (piece-fetchers.ts): one per FetchPieces call in flight, whatever
 * the cores, up to two holders' worth of calls; past this, calls share them. One worker reading two fetch
 * bodies spent ~2x the CPU per byte of two workers reading one each (docs/browser-peers.md, Speed).
 */
export const BROWSER_PEER_FETCH_WORKERS_MAX = 2 * BROWSER_PEER_STREAMS_PER_HOLDER;
/**
 * Hash workers of a download at most (one per core up to this): WebCrypto's digest runs on the calling
 * thread, and one thread hashing was the store worker's biggest cost (docs/browser-peers.md, Speed).
 */
export const BROWSER_PEER_HASH_WORKERS_MAX = 4;
/** How often a running job reports progress to the page. */
export const BROWSER_PEER_PROGRESS_EVERY_MS = 250;
/**
 * AnswerPieces calls a browser peer has in flight at once; piece requests that arrive meanwhile wait
 * and go out together in the next call. Chromium spends per request (a fetch, a Blob, a File slice:
 * ~6 ms of sync IPC on the page's thread per 1 MiB piece answered alone), so fewer, larger calls
 * (docs/browser-peers.md, Speed).
 */
export const BROWSER_PEER_ANSWER_CALLS_MAX = 2;
/**
 * While one AnswerPieces call is in flight, a second goes out only once this many piece requests
 * wait (with none in flight, at once): a request that arrived alone went out alone in 16-19 of ~60
 * calls per 256 MiB, each paying a call's whole cost for 1 MiB.
 */
export const BROWSER_PEER_ANSWER_ALONGSIDE_MIN_PIECES = 4;
/** Bytes of pieces one AnswerPieces call carries at most (at least one piece; the gateway takes 17 MiB bodies). */
export const BROWSER_PEER_ANSWER_BATCH_BYTES = 8 * 1024 * 1024;
/** First pause before reattaching to a gateway after the stream broke; doubles up to the maximum. */
export const GATEWAY_REATTACH_BASE_MS = 250;
/** Longest pause between two reattach attempts. */
export const GATEWAY_REATTACH_MAX_MS = 4_000;
/** localStorage key of the browser peer's name and gateways (never its password). */
export const BROWSER_PEER_KEY = "p2p.browser-peer";
/**
 * Least time between two redraws of one transfer's progress (4 a second): the store worker and the
 * pserver report about as often, and each redraw costs the renderer's main thread (issue #20).
 */
export const PROGRESS_SHOWN_EVERY_MS = 250;
