// The one table from a PeerError's code to what each transport says: a Connect code (Connect, gRPC and
// gRPC-Web alike) and an HTTP status (the plain-HTTP routes). Every error a pserver sends goes through
// here, so each carries its reason as an ErrorDetail; anything that is not a PeerError leaves as
// "Internal Server Error" with the original kept as `cause` for the log, never in the message.
import { STATUS_CODES } from "node:http";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { isAbort, isPeerError, PeerError, type ErrorCode, type Reason } from "../errors.js";
import { ErrorDetailSchema, ErrorReason } from "../gen.js";

/**
 * Each code's Connect code and HTTP status. The statuses are Connect's own for its codes, except
 * out_of_range: the only range a plain-HTTP route checks is a byte range, and HTTP has a word for that.
 */
const STATUS: Record<ErrorCode, { readonly connect: Code; readonly http: number }> = {
  canceled: { connect: Code.Canceled, http: 499 },
  invalid_argument: { connect: Code.InvalidArgument, http: 400 },
  out_of_range: { connect: Code.OutOfRange, http: 416 },
  not_found: { connect: Code.NotFound, http: 404 },
  already_exists: { connect: Code.AlreadyExists, http: 409 },
  permission_denied: { connect: Code.PermissionDenied, http: 403 },
  unauthenticated: { connect: Code.Unauthenticated, http: 401 },
  resource_exhausted: { connect: Code.ResourceExhausted, http: 429 },
  failed_precondition: { connect: Code.FailedPrecondition, http: 400 },
  data_loss: { connect: Code.DataLoss, http: 500 },
  deadline_exceeded: { connect: Code.DeadlineExceeded, http: 504 },
  unavailable: { connect: Code.Unavailable, http: 503 },
  unimplemented: { connect: Code.Unimplemented, http: 501 },
  internal: { connect: Code.Internal, http: 500 },
};

/** What a caller is told about anything that is not a PeerError. */
const INTERNAL_MESSAGE = "Internal Server Error";

/** The Connect code a PeerError code becomes. */
export function connectCodeOf(code: ErrorCode): Code {
  return STATUS[code].connect;
}

/** The ErrorDetail that carries `reason` to clients, in the form ConnectError takes outgoing details. */
function detail(reason: Reason) {
  return { desc: ErrorDetailSchema, value: create(ErrorDetailSchema, { reason: ErrorReason[reason] }) };
}

/**
 * Any error as the ConnectError the caller gets: a PeerError with its code, message and reason; an abort
 * as Canceled; a ConnectError as it is (connect's own, or one already mapped); anything else as
 * "Internal Server Error" with the original as `cause`.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof PeerError) return new ConnectError(err.message, connectCodeOf(err.code), undefined, [detail(err.reason)], err);
  if (isAbort(err)) return new ConnectError((err as Error).message, Code.Canceled, undefined, [detail("CANCELLED")], err);
  return new ConnectError(INTERNAL_MESSAGE, Code.Internal, undefined, [detail("INTERNAL")], err);
}

/** Whether `err` is a failure the pserver expected (a PeerError, an abort, or a ConnectError), not a bug to log as one. */
export function isExpected(err: unknown): boolean {
  return isPeerError(err) || isAbort(err) || err instanceof ConnectError;
}

/** Socket and stream errors that mean the caller closed its connection or stream: its choice, not a fault of either side. */
const CALLER_GONE = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_STREAM_PREMATURE_CLOSE", "ERR_STREAM_DESTROYED", "ERR_HTTP2_STREAM_CANCEL", "ERR_HTTP2_INVALID_STREAM"]);

/** Whether `err` says the caller went away (a reset, a closed pipe, a cancelled stream) rather than sent something wrong. */
export function isCallerGone(err: unknown): boolean {
  return typeof err === "object" && err !== null && CALLER_GONE.has(String((err as { code?: unknown }).code));
}

/** The JSON body of a plain-HTTP error answer (the directory's shape, plus the reason). */
export interface HttpErrorBody {
  /** The HTTP reason phrase. */
  readonly error: string;
  /** A PeerError's sentence for a person; for anything else only the reason phrase again. */
  readonly message: string;
  /** The ErrorReason value's full name, e.g. ERROR_REASON_FILE_NOT_HELD. */
  readonly reason: string;
}

/** Any error as a plain-HTTP answer: the table's status for a PeerError, 500 with no details for anything else. */
export function toHttpError(err: unknown): { status: number; body: HttpErrorBody } {
  const known = err instanceof PeerError;
  const status = known ? STATUS[err.code].http : 500;
  const phrase = STATUS_CODES[status] ?? "Error";
  const reason: Reason = known ? err.reason : "INTERNAL";
  return { status, body: { error: phrase, message: known ? err.message : phrase, reason: `ERROR_REASON_${reason}` } };
}

/** The reason a pserver attached to an error it sent; undefined when there is none (not from a pserver, or an older one). */
export function reasonOf(err: unknown): Reason | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  const value = err.findDetails(ErrorDetailSchema)[0]?.reason;
  if (value === undefined || value === ErrorReason.UNSPECIFIED) return undefined;
  return ErrorReason[value] as Reason | undefined;
}
