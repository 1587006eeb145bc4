// The pserver's one error type. Every expected failure (bad input, a file not held, a full disk, an
// unreachable directory, ...) is a PeerError: a reason a program can act on, the code that reason always
// comes with, and a sentence for a person that is safe to show to whoever asked. Anything that is not a
// PeerError is a bug or an unexpected failure: callers get only "Internal Server Error", the log gets the
// original. This file knows no transport: rpc/error-mapping.ts turns codes into Connect codes and HTTP
// statuses, and reasons into the ErrorDetail that travels with every error.
import type { ErrorReason } from "./gen.js";

/**
 * What kind of failure, in the words of Connect's codes, so that every transport (Connect, gRPC, gRPC-Web,
 * plain HTTP, the CLI) can say it in its own terms.
 */
export type ErrorCode =
  | "canceled"
  | "invalid_argument"
  | "out_of_range"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "unauthenticated"
  | "resource_exhausted"
  | "failed_precondition"
  | "data_loss"
  | "deadline_exceeded"
  | "unavailable"
  | "unimplemented"
  | "internal";

/** Why a call failed: a value of the protocol's ErrorReason enum, by its short name (FILE_NOT_HELD). */
export type Reason = Exclude<keyof typeof ErrorReason, "UNSPECIFIED">;

/**
 * The code each reason comes with. One reason, one code, so a client that knows the reason knows the code,
 * and the proto's comment on each value says which (keep the two in step).
 */
const REASON_CODES: Record<Reason, ErrorCode> = {
  INTERNAL: "internal",
  BAD_REQUEST: "invalid_argument",
  BAD_CONTENT_ID: "invalid_argument",
  BAD_NAME: "invalid_argument",
  BAD_MANIFEST: "invalid_argument",
  BAD_PIECE_REQUEST: "invalid_argument",
  BAD_PUSH: "invalid_argument",
  BAD_RANGE: "out_of_range",
  REQUEST_TOO_LARGE: "resource_exhausted",
  SESSION_EXPIRED: "unauthenticated",
  WRONG_PASSWORD: "unauthenticated",
  WRONG_PEER: "permission_denied",
  TICKET_REFUSED: "permission_denied",
  PUSH_REFUSED: "permission_denied",
  FILE_NOT_HELD: "not_found",
  FILE_CHANGED: "not_found",
  NAME_NOT_SHARED: "not_found",
  TRANSFER_NOT_FOUND: "not_found",
  IMPORT_NOT_FOUND: "not_found",
  ALREADY_HELD: "already_exists",
  NOT_LOGGED_IN: "failed_precondition",
  NO_UPLOAD_TARGET: "failed_precondition",
  AMBIGUOUS_NAME: "failed_precondition",
  CHUNKS_MISSING: "failed_precondition",
  IMPORT_FINISHING: "failed_precondition",
  IMPORT_CANCELLED: "failed_precondition",
  DISK_FULL: "resource_exhausted",
  RATE_LIMITED: "resource_exhausted",
  TOO_MANY_IMPORTS: "resource_exhausted",
  HASH_MISMATCH: "data_loss",
  PEER_MISBEHAVED: "data_loss",
  STALLED: "deadline_exceeded",
  DIRECTORY_UNREACHABLE: "unavailable",
  DIRECTORY_REJECTED: "invalid_argument",
  NO_HOLDERS: "unavailable",
  PEER_GONE: "unavailable",
  SHUTTING_DOWN: "unavailable",
  CANCELLED: "canceled",
  UNKNOWN_RPC: "unimplemented",
};

/** An expected failure: a reason, its code, and a message that may be shown to the caller as it is. */
export class PeerError extends Error {
  /** Why, for a program: it travels to clients as the ErrorDetail's reason. */
  readonly reason: Reason;
  /** What kind of failure; transports turn it into their own status. */
  readonly code: ErrorCode;

  /** Creates an error for `reason` with a sentence for a person; `cause` is kept for the log only. */
  constructor(reason: Reason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PeerError";
    this.reason = reason;
    this.code = REASON_CODES[reason];
  }
}

/** Whether `err` is a PeerError, and (when reasons are given) one of those reasons. */
export function isPeerError(err: unknown, ...reasons: Reason[]): err is PeerError {
  return err instanceof PeerError && (reasons.length === 0 || reasons.includes(err.reason));
}

/** The usual answer when a content id is not in the shared folder. */
export function notHeld(): PeerError {
  return new PeerError("FILE_NOT_HELD", "This pserver holds no file with that content id.");
}

/** The usual answer when this pserver holds no directory session (never logged in, or logged out). */
export function notLoggedIn(): PeerError {
  return new PeerError("NOT_LOGGED_IN", "This pserver is not logged in at the directory; log in first.");
}

/** Whether an error is an abort: an AbortSignal's default reason (AbortError) or a cancelled transfer. */
export function isAbort(err: unknown): boolean {
  if (err instanceof PeerError) return err.code === "canceled";
  return err instanceof Error && err.name === "AbortError";
}

/** Whether a Node I/O error means the disk is full (or over quota). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}
