// Domain errors of the pserver's transfers core and the ONE mapping from them to Connect codes and HTTP
// statuses (house rule 4). Store and transfer code throw these classes; only transports call
// toConnectError / toHttpStatus. The messages are sentences for a person and safe to show to a caller;
// anything else becomes "Internal Server Error" with the original kept as `cause` for the log.
import { Code, ConnectError } from "@connectrpc/connect";

/** Base class: an expected failure whose message may be shown to the caller. */
export class PeerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The shared folder holds no file with that content id (or it changed on disk since it was indexed). */
export class NotHeldError extends PeerError {
  constructor(contentId: string, detail = "This pserver holds no file with that content id.") {
    super(detail);
    this.contentId = contentId;
  }
  readonly contentId: string;
}

/** A file name from the network or a browser is not acceptable as a single safe path component. */
export class InvalidNameError extends PeerError {}

/** A request is malformed: bad content id, piece index past the end, inconsistent manifest, ... */
export class InvalidRequestError extends PeerError {}

/** The directory does not vouch for a push ticket (unknown, expired, already used, other peer or content). */
export class InvalidTicketError extends PeerError {}

/** Not enough free space on the shared folder's disk, before starting or mid-write (ENOSPC). */
export class DiskFullError extends PeerError {}

/** A per-peer or per-request limit was hit (too many streams, too many pieces in one request). */
export class LimitExceededError extends PeerError {}

/** Received bytes failed verification (piece hash or whole-file hash). Nothing unverified is kept. */
export class VerificationError extends PeerError {}

/** The other side stopped sending or reading for too long. */
export class StalledError extends PeerError {}

/** A peer or the directory could not be reached, or no live holder is left. */
export class UnavailableError extends PeerError {}

/** Maps any error to a ConnectError with a precise code; internals stay in `cause`, never in the message. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const code = codeOf(err);
  if (code === undefined) {
    return new ConnectError("Internal Server Error", Code.Internal, undefined, undefined, err);
  }
  return new ConnectError((err as Error).message, code, undefined, undefined, err);
}

/** The Connect code of a domain error, undefined for unexpected errors (bugs, raw I/O errors). */
export function codeOf(err: unknown): Code | undefined {
  if (err instanceof NotHeldError) return Code.NotFound;
  if (err instanceof InvalidNameError || err instanceof InvalidRequestError) return Code.InvalidArgument;
  if (err instanceof InvalidTicketError) return Code.PermissionDenied;
  if (err instanceof DiskFullError || err instanceof LimitExceededError) return Code.ResourceExhausted;
  if (err instanceof VerificationError) return Code.DataLoss;
  if (err instanceof StalledError) return Code.DeadlineExceeded;
  if (err instanceof UnavailableError) return Code.Unavailable;
  if (isAbort(err)) return Code.Canceled;
  return undefined;
}

/** The HTTP status for a domain error (GET /files and other plain-HTTP routes); 500 for anything else. */
export function toHttpStatus(err: unknown): number {
  if (err instanceof NotHeldError) return 404;
  if (err instanceof InvalidNameError || err instanceof InvalidRequestError) return 400;
  if (err instanceof InvalidTicketError) return 403;
  if (err instanceof DiskFullError) return 507;
  if (err instanceof LimitExceededError) return 429;
  if (err instanceof UnavailableError) return 503;
  return 500;
}

/** Whether an error is an abort (AbortSignal reason, AbortError, or a Canceled ConnectError). */
export function isAbort(err: unknown): boolean {
  if (err instanceof ConnectError) return err.code === Code.Canceled;
  return err instanceof Error && (err.name === "AbortError" || err.name === "TransferCancelledError");
}

/** Whether a Node I/O error means the disk is full (or over quota). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}
