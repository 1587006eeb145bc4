// Every number with a unit that peer-node uses, in one place (house rule 3).

/** Default size of a piece in a manifest. */
export const PIECE_SIZE_BYTES = 1024 * 1024;
/** At most this often a running transfer emits progress (state changes go out at once). */
export const PROGRESS_EMIT_INTERVAL_MS = 250;
/** The recent rate is measured over this window. */
export const RATE_WINDOW_MS = 5_000;

/** Software version reported by Ping and GetStatus. */
export const PSERVER_VERSION = "0.1.0";

// One-port server (see server/one-port.ts and STACK.md for the measurements behind these).
/** HTTP/2 per-stream flow-control window we advertise. */
export const HTTP2_INITIAL_WINDOW_BYTES = 8 * 1024 * 1024;
/** Largest HTTP/2 frame we accept. */
export const HTTP2_MAX_FRAME_BYTES = 1024 * 1024;
/** HTTP/2 connection-level window we advertise. */
export const HTTP2_SESSION_WINDOW_BYTES = 32 * 1024 * 1024;
/** An HTTP/2 session with no activity for this long is closed. */
export const HTTP2_SESSION_IDLE_TIMEOUT_MS = 120_000;
/** An HTTP/1.1 client must send its request headers within this time. */
export const HTTP1_HEADERS_TIMEOUT_MS = 30_000;
/** An idle HTTP/1.1 keep-alive connection is closed after this time. */
export const HTTP1_KEEP_ALIVE_TIMEOUT_MS = 10_000;
/** A new connection must send its first bytes within this time. */
export const PREFACE_WAIT_MS = 10_000;
/** On close, connections still open after this grace period are cut. */
export const CLOSE_GRACE_MS = 2_000;
/** Preflight results may be cached by browsers for this long. */
export const CORS_MAX_AGE_SECONDS = 7_200;
/** Largest RPC message a pserver reads (a 16 MiB piece plus framing). */
export const MAX_RPC_MESSAGE_BYTES = 17 * 1024 * 1024;
