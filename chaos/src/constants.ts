// Every number chaos uses, with its unit in the name (see ARCHITECTURE.md). Scenario sizes live with
// their scenario's options; these are the harness's bounds. The directory's limits that chaos provokes
// are not copied here: they are imported from @p2p/directory-api.

/** The only host chaos ever talks to. Every URL is checked against it before use (see harness/loopback.ts). */
export const LOOPBACK_HOST = "127.0.0.1";
/** A second loopback source address, so a hostile client counts as another peer than the honest ones. */
export const SECOND_LOOPBACK_SOURCE = "127.0.0.2";

/** A spawned directory or pserver must print its ready line within this time. */
export const PROCESS_READY_TIMEOUT_MS = 45_000;
/** After SIGTERM, a process gets this long to exit before it is killed. */
export const PROCESS_STOP_GRACE_MS = 8_000;
/** Lines of a child's output kept in memory for failure messages. */
export const PROCESS_LOG_TAIL_LINES = 40;
/** A child polls its parent's pid this often and kills itself when the parent is gone (no orphans). */
export const PARENT_WATCH_INTERVAL_MS = 500;

/** Default poll period of waitFor. */
export const POLL_INTERVAL_MS = 100;
/** Default bound of waitFor. */
export const WAIT_TIMEOUT_MS = 30_000;
/** How often a folder guard looks for unverified entries in a shared folder. */
export const FOLDER_GUARD_INTERVAL_MS = 25;

/** scrypt cost (log2 N) of the directories chaos starts, except the load run (hashing is not under test). */
export const CHAOS_SCRYPT_COST_LOG2 = 10;
/** Heartbeat interval of the directories of the fault scenarios (short, so expiry and re-login show fast). */
export const FAULT_HEARTBEAT_INTERVAL_MS = 1_000;

/** Password every chaos peer uses (within the directory's PASSWORD_MIN_BYTES .. PASSWORD_MAX_BYTES). */
export const CHAOS_PASSWORD = "chaos-password-1";

/** The pserver's piece size (peer-node's PIECE_SIZE_BYTES): scenario files are sized in pieces. */
export const PIECE_SIZE_BYTES = 1024 * 1024;
/** The pserver ends a PeerService stream whose reader stops reading after this long (PEER_STREAM_IDLE_TIMEOUT_MS). */
export const PSERVER_STREAM_IDLE_TIMEOUT_MS = 30_000;
/** The pserver closes a connection that sent no bytes after this long (PREFACE_WAIT_MS). */
export const PSERVER_PREFACE_WAIT_MS = 10_000;
/** The pserver closes an HTTP/1.1 connection whose headers do not complete in this time (HTTP1_HEADERS_TIMEOUT_MS). */
export const PSERVER_HEADERS_TIMEOUT_MS = 30_000;
/** The pserver's per-remote-address limit of concurrent PeerService streams (PEER_STREAMS_PER_REMOTE_MAX). */
export const PSERVER_STREAMS_PER_REMOTE_MAX = 16;
/** Free space a pserver keeps on its shared folder's disk (DISK_FREE_RESERVE_BYTES). */
export const PSERVER_DISK_RESERVE_BYTES = 64 * 1024 * 1024;
/** The pserver's largest RPC message (MAX_RPC_MESSAGE_BYTES). */
export const PSERVER_MAX_RPC_MESSAGE_BYTES = 17 * 1024 * 1024;
