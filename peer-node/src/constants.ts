// Every number with a unit that peer-node uses, in one place (ARCHITECTURE.md, Numbers).

/** Default size of a piece in a manifest. */
export const PIECE_SIZE_BYTES = 1024 * 1024;
/** At most this often a running transfer emits progress (state changes go out at once). */
export const PROGRESS_EMIT_INTERVAL_MS = 250;
/** The recent rate is measured over this window. */
export const RATE_WINDOW_MS = 5_000;

/** Software version reported by Ping and GetStatus. */
export const PSERVER_VERSION = "0.1.0";

// One-port server (see rpc/one-port.ts and ARCHITECTURE.md, One port, for the measurements behind these).
/** HTTP/2 per-stream flow-control window we advertise. */
export const HTTP2_INITIAL_WINDOW_BYTES = 8 * 1024 * 1024;
/** Largest HTTP/2 frame we accept. */
export const HTTP2_MAX_FRAME_BYTES = 1024 * 1024;
/** HTTP/2 connection-level window we advertise. */
export const HTTP2_SESSION_WINDOW_BYTES = 32 * 1024 * 1024;
/**
 * HTTP/2 per-stream window of our calls to other pservers (downloads). Node acknowledges connection-level
 * bytes as they arrive and holds back only the stream's window, so a download stream paused for a ring
 * slot buffers up to this much: with 8 MiB, 8 waiting streams held ~64 MiB of chunks and the downloading
 * pserver peaked at 163 MB RSS; with 2 MiB at 140 MB, equally fast on loopback (peer-node bench). Eight
 * streams of 2 MiB still carry ~160 MB/s at 100 ms round trips.
 */
export const PEER_CALL_STREAM_WINDOW_BYTES = 2 * 1024 * 1024;
/** An HTTP/2 session with no activity for this long is closed. */
export const HTTP2_SESSION_IDLE_TIMEOUT_MS = 120_000;
/** An HTTP/1.1 client must send its request headers within this time. */
export const HTTP1_HEADERS_TIMEOUT_MS = 30_000;
/** An idle HTTP/1.1 keep-alive connection is closed after this time. */
export const HTTP1_KEEP_ALIVE_TIMEOUT_MS = 10_000;
/** Memory one HTTP/2 session may hold (Node's option is in megabytes): above a window plus a max message. */
export const HTTP2_MAX_SESSION_MEMORY_MB = 96;
/** A request body (unary or client stream) that sends nothing for this long is cut. */
export const REQUEST_BODY_IDLE_TIMEOUT_MS = 30_000;
/** A new connection must send its first bytes within this time. */
export const PREFACE_WAIT_MS = 10_000;
/** On close, connections still open after this grace period are cut. */
export const CLOSE_GRACE_MS = 2_000;
/** Preflight results may be cached by browsers for this long. */
export const CORS_MAX_AGE_SECONDS = 7_200;
/** Largest RPC message a pserver reads (a 16 MiB piece plus framing). */
export const MAX_RPC_MESSAGE_BYTES = 17 * 1024 * 1024;

// Transfers core: shared folder, PeerService, downloader, pusher (src/store, src/download, src/push, src/pieces, src/rpc/peer-service.ts).
// Piece sizes, name length, search paging and index batches are the directory's contract: the pserver
// must agree with what the directory accepts, so they come from there (one message carries one piece).
export {
  MIN_PIECE_SIZE_BYTES,
  MAX_PIECE_SIZE_BYTES,
  FILE_NAME_MAX_BYTES as MAX_FILE_NAME_BYTES,
  SEARCH_DEFAULT_LIMIT,
  SEARCH_MAX_LIMIT,
  SEARCH_QUERY_MAX_BYTES,
  PASSWORD_MIN_BYTES,
  PASSWORD_MAX_BYTES,
  USERNAME_MAX_CHARS,
} from "@p2p/directory-api";
/** A file gets a bigger piece size (doubling) rather than more pieces than this, so manifests stay ~4 MiB at most. */
export const MAX_PIECES_PER_FILE = 131_072;
/** At most this many piece indexes in one FetchPieces request. */
export const FETCH_PIECES_MAX_INDEXES = 64;
/** At most this many PeerService streams (FetchPieces, PushFile) at once from one remote address. */
export const PEER_STREAMS_PER_REMOTE_MAX = 16;
/** A PeerService stream whose other side neither sends nor reads for this long is ended. */
export const PEER_STREAM_IDLE_TIMEOUT_MS = 30_000;
/**
 * The slowest stream a pserver keeps receiving (a push, or a holder's FetchPieces answer), measured over
 * TRANSFER_FLOOR_WINDOW_MS (transfer/rate-floor.ts). Parts keep a capped push's bytes flowing (PushPiece),
 * so without a floor a sender could hold a stream slot and a partial file for ever with a byte every 29 s.
 */
export const PUSH_MIN_BYTES_PER_SECOND = 4 * 1024;
/** The sliding window the floor is measured over: long enough for a burst after a hiccup, short enough that a trickle is cut within it. */
export const TRANSFER_FLOOR_WINDOW_MS = 20_000;
/** Idle HTTP/2 sessions to other peers close after this long. */
export const PEER_SESSION_IDLE_TIMEOUT_MS = 60_000;
/** Keepalive PING interval on HTTP/2 sessions to other peers with open streams (finds dead TCP links). */
export const PEER_SESSION_PING_INTERVAL_MS = 15_000;
/** A holder that sends no piece bytes for this long loses its pieces to other holders. */
export const HOLDER_STALL_TIMEOUT_MS = 15_000;
/** GetManifest from one holder gives up after this long. */
export const MANIFEST_TIMEOUT_MS = 10_000;
/** A running download asks the directory for holders again this often (and at once when none is left). */
export const HOLDER_REFRESH_INTERVAL_MS = 30_000;
/** A download with no usable holder waits this long for one to appear before it fails. */
export const NO_HOLDER_GRACE_MS = 10_000;
/**
 * Piece indexes the downloader asks for in one FetchPieces request. A call costs ~0.7 ms of CPU on each
 * side whatever it carries (HTTP/2 stream, headers, trailers, the handler's context: 1-piece calls against
 * 16-piece calls, bench:variants, 2026-11-26). With 4 pieces per call that was ~0.2 CPU-s per GiB on each
 * side; with 16, the seeder used 0.95-1.10 CPU-s per GiB served instead of 1.12-1.42 (5 rounds each).
 */
export const FETCH_BATCH_MAX_PIECES = 16;
/** Pieces in flight per holder at the start of a download (the window then adapts). */
export const HOLDER_WINDOW_INITIAL_PIECES = 4;
/**
 * Most pieces in flight per holder: enough for a full batch on each of the download's streams. The ring,
 * not this, bounds memory; this bounds what a dying holder takes with it until it is found stalled.
 */
export const HOLDER_WINDOW_MAX_PIECES = 96;
/** A download pulls from at most this many holders at once. */
export const HOLDERS_PER_DOWNLOAD_MAX = 8;
/** A holder that sent this many bad pieces is banned for the rest of the transfer. */
export const HOLDER_BAD_PIECES_BAN = 3;
/** A holder whose requests failed this many times in a row is dropped until the next holder refresh. */
export const HOLDER_FAILURES_DROP = 3;
/** First wait before retrying a holder whose request failed; doubles per failure. */
export const HOLDER_RETRY_MIN_MS = 500;
/** The download's resume state (bitfield) is saved at least this often while pieces arrive. */
export const DOWNLOAD_STATE_SAVE_INTERVAL_MS = 1_000;
/** ... and after at most this many newly verified pieces. */
export const DOWNLOAD_STATE_SAVE_PIECES = 64;
/**
 * Received piece bytes waiting for their hash check and write: a download's ring of piece slots is this
 * big (plus a slot), and no bigger than that whatever the file; beyond it the downloader stops reading.
 * It also bounds the download's streams (one fewer than its slots). 6 MiB: the 1 GiB bench ran as fast
 * as with 16 MiB, and the downloading pserver peaked at ~132 MB RSS instead of ~142 MB with 8 MiB.
 */
export const PIECES_UNWRITTEN_MAX_BYTES = 6 * 1024 * 1024;
/** Idle buffers a seeder keeps for reading pieces into (reused once sent, see send-pieces.ts). */
export const PIECE_BUFFERS_KEPT_BYTES = 16 * 1024 * 1024;
/** A download's ring has at least this many slots (each stream holds one while its message arrives). */
export const PIECE_RING_MIN_SLOTS = 4;
/** Room in a ring slot beyond the piece for the message's framing (field tags, lengths, unknown fields). */
export const PIECE_MESSAGE_SLACK_BYTES = 1024;
/** Folder changes are indexed once a file's size and mtime have not moved for this long. */
export const FOLDER_SETTLE_MS = 300;
/** The folder is rescanned this often even without watcher events (watchers miss events on some filesystems). */
export const FOLDER_RESCAN_INTERVAL_MS = 60_000;
/** Manifests kept in memory (piece hashes of recently served files). */
export const MANIFEST_CACHE_ENTRIES = 64;
/** Burst a rate-capped upload may send ahead of its average rate. */
export const UPLOAD_BURST_MS = 250;
/** Under an upload cap, a served piece goes out in slices of this much of the cap (within the bounds below). */
export const UPLOAD_SLICE_MS = 250;
export const UPLOAD_SLICE_MIN_BYTES = 4 * 1024;
export const UPLOAD_SLICE_MAX_BYTES = 256 * 1024;

// Client side: directory link, client sessions, imports, export (src/directory, src/rpc, src/import).
/** One REST call to the directory gives up after this long. */
export const DIRECTORY_REQUEST_TIMEOUT_MS = 5_000;
/** A directory answer larger than this is refused (a search page is far smaller). */
export const DIRECTORY_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** First wait before retrying an unreachable directory; doubles per failure. */
export const DIRECTORY_RETRY_MIN_MS = 500;
/** The retry wait never grows past this. */
export const DIRECTORY_RETRY_MAX_MS = 10_000;
/** Heartbeats and retries are spread by up to this fraction of their interval, so peers don't beat in step. */
export const DIRECTORY_JITTER_FRACTION = 0.1;
/** Store changes arriving within this window go to the directory as one delta. */
export const DIRECTORY_DELTA_DEBOUNCE_MS = 200;
/** While someone watches events, the directory's peer list is polled this often. */
export const PEER_POLL_INTERVAL_MS = 3_000;
/** A client session unused for this long expires. */
export const CLIENT_SESSION_IDLE_MS = 12 * 60 * 60_000;
/** At most this many client sessions at once; the least recently used goes first. */
export const CLIENT_SESSION_MAX = 64;
/**
 * Bytes per import chunk (ImportChunk carries one; a file's chunks are at least its piece size, so each
 * holds whole pieces the pserver hashes as it writes them). Chromium spends per request, not per byte:
 * uploading 1 MiB slices cost its browser and network processes ~13 CPU-s per GiB, 8 MiB slices ~7
 * (docs/browser-peers.md, Speed).
 */
export const IMPORT_CHUNK_SIZE_BYTES = 8 * 1024 * 1024;
/** Longest resume key a tab may give BeginImport (its name for a file it did not hash). */
export const IMPORT_RESUME_KEY_MAX_BYTES = 1024;
/** A session may have at most this many unfinished imports. */
export const IMPORTS_PER_SESSION_MAX = 8;
/** The pserver keeps at most this many unfinished imports in all. */
export const IMPORTS_TOTAL_MAX = 64;
/** An unfinished import untouched for this long is discarded at the next start. */
export const IMPORT_STALE_MS = 7 * 24 * 60 * 60_000;
/**
 * Bytes per read and per socket write when a held file goes to a browser or curl (`GET /files`, rounded to
 * whole pieces; each of its two buffers is this big). 64 KiB reads (fs.createReadStream's default) cost
 * twice the CPU per GiB of 1 MiB ones, a read, a chunk and a socket write each time (files-export bench).
 */
export const FILE_EXPORT_READ_BYTES = 1024 * 1024;
/** Imports and downloads must leave at least this much free space on the shared folder's disk. */
export const DISK_FREE_RESERVE_BYTES = 64 * 1024 * 1024;
/** Looking up a download by exact name reads at most this many search pages. */
export const SEARCH_BY_NAME_MAX_PAGES = 10;
/** On close, the directory logout waits at most this long. */
export const LOGOUT_TIMEOUT_MS = 2_000;
/**
 * Longest one step of a pserver's close may take (the directory logout, ending event streams, the port's
 * grace, closing peer connections...). Each of them has a bound of its own well below this; this one only
 * keeps a step that hangs in a way nobody foresaw from holding the process open.
 */
export const CLOSE_STEP_TIMEOUT_MS = 10_000;
/** Width of the CLI's progress bar on a terminal. */
export const CLI_BAR_WIDTH_CHARS = 30;
/** Off a terminal, the CLI prints a progress line at most this often (each change of state gets its own). */
export const CLI_PROGRESS_LINE_INTERVAL_MS = 1_000;

// The gateway for browser peers (docs/browser-peers.md). Each is a default of a GatewaySettings field.
/** Browser peers one gateway serves at once: each costs a directory session and its heartbeat. */
export const GATEWAY_MAX_TABS = 256;
/** Relayed GetManifest/FetchPieces calls to one browser peer at once (a downloader opens a few per holder). */
export const GATEWAY_STREAMS_PER_TAB_MAX = 8;
/**
 * Unanswered piece requests per relayed FetchPieces call: the tab answers them in parallel unary calls,
 * so a window of a few keeps its upload busy while a piece is on the way; with the stream cap it bounds
 * a tab's pieces in the gateway's memory to 8 x 8 x the piece size (64 MiB). 8 rather than 4: the tab
 * answers what it has in hand in one call, and Chromium's cost is per call (256 MiB relays, load 4-5:
 * browser process 4.7-4.9 CPU-s per GiB instead of 5.8-6.2, network 2.0 instead of 2.6-2.8, renderer
 * 1.3-1.4 instead of 2.1-2.2).
 */
export const GATEWAY_WINDOW_PIECES = 8;
/** Pieces one AnswerPieces call may carry (its body stays under MAX_RPC_MESSAGE_BYTES anyway). */
export const GATEWAY_ANSWER_PIECES_MAX = 64;
/** A request the tab leaves unanswered this long fails the relayed call as stalled; below HOLDER_STALL_TIMEOUT_MS so the downloader hears why. */
export const GATEWAY_REQUEST_TIMEOUT_MS = 12_000;
/** A detached tab stays listed this long (a reload reattaches within it), then its heartbeat stops. */
export const GATEWAY_DETACH_GRACE_MS = 10_000;
/** Keepalive events on an idle Attach stream: proxies keep it open and the tab can tell a dead gateway. */
export const GATEWAY_KEEPALIVE_INTERVAL_MS = 15_000;
/** A gateway session neither attached nor used for this long ends (the tab then resumes with its resume token). */
export const GATEWAY_SESSION_IDLE_MS = 30 * 60_000;
/**
 * Pushes one browser peer sends at once, and as many it receives at once: each sent push holds up to a
 * window of its pieces here, each received one a single message of the sender's stream.
 */
export const GATEWAY_PUSHES_PER_TAB_MAX = 4;
/**
 * A tab that stops reading a push to it has this long to say why (ConfirmPush, not kept: a piece did
 * not match its hash) before the push fails as gone; the sender then hears the tab's words.
 */
export const GATEWAY_PUSH_REFUSAL_GRACE_MS = 2_000;
/** Longest text of a tab's AnswerError that is passed on to a downloader. */
export const GATEWAY_ERROR_MESSAGE_MAX_CHARS = 500;

// Push consent (src/push/push-settings.ts).
/** Largest single pushed file a peer takes until its owner says otherwise: a film, not a disk image. */
export const PUSH_DEFAULT_MAX_FILE_BYTES = 4 * 1024 ** 3;
/** Bytes of pushed files a peer keeps at once until its owner says otherwise. */
export const PUSH_DEFAULT_QUOTA_BYTES = 16 * 1024 ** 3;
export { PUSH_POLICY_MAX_SENDERS } from "@p2p/directory-api";
/**
 * A save link (`GET /files/<id>?link=`, made by CreateSaveLink) works this long: a browser follows it at
 * once, and a download manager that resumes the file later asks for a new one.
 */
export const SAVE_LINK_TTL_MS = 5 * 60_000;

// Login limits (src/rpc/login-limits.ts): a password guessed at a pserver's Login costs the directory a
// scrypt each time, and the directory's own limits count the pserver, not the guesser.
/** Failed (or still running) logins counted per remote address and for the account, over this window. */
export const LOGIN_FAILURE_WINDOW_MS = 15 * 60_000;
/** Failures from one address within the window before it must wait. */
export const LOGIN_FAILURES_PER_ADDRESS = 5;
/** Failures from all remote addresses together before remote logins must wait (loopback is exempt). */
export const LOGIN_FAILURES_PER_ACCOUNT = 20;
/** The first wait once over a limit; doubles with each further failure. */
export const LOGIN_BACKOFF_MIN_MS = 1_000;
/** The wait never grows past this. */
export const LOGIN_BACKOFF_MAX_MS = 15 * 60_000;
/** Addresses tracked at once; the oldest entry goes first (a flood from many addresses cannot grow memory). */
export const LOGIN_TRACKED_ADDRESSES_MAX = 10_000;
/**
 * Files in one PublishFiles or RemoveFiles call of a tab. Above the directory's per-request cap on
 * purpose: the directory client pages what the gateway sends on, so a tab publishes its whole list
 * (replace) in one call.
 */
export const GATEWAY_MAX_FILES_PER_CALL = 10_000;
