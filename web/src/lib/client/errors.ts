import { Code, ConnectError } from "@connectrpc/connect";
import { PASSWORD_MIN_BYTES, USERNAME_MAX_CHARS } from "@p2p/directory-api";
import { ErrorDetailSchema, ErrorReason } from "./gen.js";

/** What the person was doing when an error happened; the same code means different things per action. */
export type Action =
  | "login"
  | "logout"
  | "status"
  | "files"
  | "remove"
  | "search"
  | "peers"
  | "download"
  | "upload"
  | "import"
  | "cancel"
  | "events"
  | "save"
  | "settings";

/** An error whose message is already a sentence for a person (client-side checks, local file reads). */
export class UserFacingError extends Error {
  override readonly name = "UserFacingError";
}

const SESSION_ENDED = "Your session has ended. Please log in again.";
const PSERVER_UNREACHABLE = "This peer's server can't be reached. Check that it is running, then try again.";
const DIRECTORY_UNREACHABLE = "The directory can't be reached right now. Try again in a moment.";
const PEER_WENT_AWAY = "The other peer went away before the transfer finished.";
const DISK_IS_FULL = "The disk is full. Free some space and try again.";
const SERVER_FAILED = "Something went wrong on this peer's server. Please try again.";
const SOMETHING_WENT_WRONG = "Something went wrong. Please try again.";
const CANCELLED = "The operation was cancelled.";
const TOO_SLOW = "That took too long. Please try again.";
const LOGIN_RULES = `Usernames are 1 to ${USERNAME_MAX_CHARS} letters, digits, dots, dashes or underscores; passwords at least ${PASSWORD_MIN_BYTES} characters.`;

/**
 * The reason the pserver attached to an error (UNSPECIFIED when there is none). The pserver attaches
 * one to everything it sends, so an error without one did not come from it: the network failed, a
 * proxy answered, or the client's own transport gave up.
 */
export function reasonOf(error: unknown): ErrorReason {
  if (!(error instanceof ConnectError)) return ErrorReason.UNSPECIFIED;
  return error.findDetails(ErrorDetailSchema)[0]?.reason ?? ErrorReason.UNSPECIFIED;
}

/** The pserver's message as a sentence: it writes them for people, but some start with a field name. */
function asSentence(message: string): string {
  const text = message.trim();
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return ".!?".includes(capital.charAt(capital.length - 1)) ? capital : `${capital}.`;
}

/**
 * The sentence for a reason the pserver gave, or undefined for reasons only other pservers see (a push,
 * a piece request), which fall back on the code. Where the pserver's own message says more than a fixed
 * sentence could (which peer, which limit, which names), it is shown.
 */
function describeReason(reason: ErrorReason, message: string, action: Action | undefined): string | undefined {
  switch (reason) {
    case ErrorReason.INTERNAL:
      return SERVER_FAILED;
    case ErrorReason.BAD_REQUEST:
      return action === "login" ? LOGIN_RULES : asSentence(message);
    case ErrorReason.BAD_CONTENT_ID:
      return "That is not a content id: it is m1_ followed by 64 characters of 0-9 and a-f.";
    case ErrorReason.BAD_NAME:
      return "That file name can't be used in a shared folder. Rename the file and add it again.";
    case ErrorReason.SESSION_EXPIRED:
      return SESSION_ENDED;
    case ErrorReason.WRONG_PASSWORD:
      return "Wrong username or password.";
    case ErrorReason.WRONG_PEER:
    case ErrorReason.NO_UPLOAD_TARGET:
    case ErrorReason.AMBIGUOUS_NAME:
    case ErrorReason.TOO_MANY_IMPORTS:
    case ErrorReason.PUSH_REFUSED:
      return asSentence(message);
    case ErrorReason.FILE_NOT_HELD:
      return "That file is no longer in your shared folder.";
    case ErrorReason.FILE_CHANGED:
      return "That file changed on disk and is being indexed again. Try again in a moment.";
    case ErrorReason.NAME_NOT_SHARED:
      return "That file is no longer available: no live peer holds it.";
    case ErrorReason.TRANSFER_NOT_FOUND:
      return "That transfer has already ended.";
    case ErrorReason.IMPORT_NOT_FOUND:
      return "The pserver no longer knows this import. Add the file again.";
    case ErrorReason.ALREADY_HELD:
      return "You already share this file.";
    case ErrorReason.NOT_LOGGED_IN:
      return "This peer is not logged in at the directory. Log out and in again.";
    case ErrorReason.CHUNKS_MISSING:
      return "Some parts of the file did not arrive. Add the file again to send the rest.";
    case ErrorReason.IMPORT_FINISHING:
      return "This file is already being added. Wait for it to finish.";
    case ErrorReason.IMPORT_CANCELLED:
      return "The import was cancelled.";
    case ErrorReason.DISK_FULL:
      return DISK_IS_FULL;
    case ErrorReason.RATE_LIMITED:
      // A login refused for too many tries says how long to wait.
      return action === "login" ? asSentence(message) : "Too many requests right now. Wait a moment and try again.";
    case ErrorReason.HASH_MISMATCH:
      return action === "import"
        ? "The file changed while it was being added, so its content no longer matches. Add it again."
        : "The received data was damaged and was thrown away. Please try again.";
    case ErrorReason.STALLED:
      return TOO_SLOW;
    case ErrorReason.DIRECTORY_UNREACHABLE:
      return DIRECTORY_UNREACHABLE;
    case ErrorReason.DIRECTORY_REJECTED:
      return "The directory refused that request.";
    case ErrorReason.NO_HOLDERS:
      return "No peer holding this file can be reached right now. Try again later.";
    case ErrorReason.PEER_GONE:
      return PEER_WENT_AWAY;
    case ErrorReason.SHUTTING_DOWN:
      return "This peer's server is restarting. Try again in a moment.";
    case ErrorReason.CANCELLED:
      return CANCELLED;
    case ErrorReason.UNKNOWN_RPC:
      return "This pserver does not support that yet.";
    default:
      return undefined;
  }
}

/**
 * The sentence for an error that came with no reason (or one meant for other pservers), by its code:
 * fixed sentences only, since such a message was not written by the pserver for a person.
 */
function describeCode(code: Code, action: Action | undefined): string {
  switch (code) {
    case Code.Canceled:
      return CANCELLED;
    case Code.Unauthenticated:
      return action === "login" ? "Wrong username or password." : SESSION_ENDED;
    case Code.PermissionDenied:
      return action === "login" ? "This account is not allowed to log in here." : "You are not allowed to do that.";
    case Code.NotFound:
      switch (action) {
        case "download":
          return "That file is no longer available: no live peer holds it.";
        case "upload":
        case "remove":
          return "That file is no longer in your shared folder.";
        case "import":
          return "The pserver no longer knows this import. Add the file again.";
        case "cancel":
          return "That transfer has already ended.";
        default:
          return "That is no longer available.";
      }
    case Code.AlreadyExists:
      return action === "import" ? "You already share this file." : "That already exists.";
    case Code.ResourceExhausted:
      return action === "import" || action === "download" ? DISK_IS_FULL : "This peer is busy right now. Try again later.";
    case Code.Unavailable:
    case Code.Unknown:
      // The pserver gives a reason with each of its own: without one, it was not reached (a network
      // failure is Unknown in connect-web, a proxy's 502/503 Unavailable).
      return PSERVER_UNREACHABLE;
    case Code.DeadlineExceeded:
      return TOO_SLOW;
    case Code.FailedPrecondition:
      return action === "import" ? "Some parts of the file did not arrive. Add the file again to send the rest." : "That can't be done right now.";
    case Code.DataLoss:
      return action === "import"
        ? "The file changed while it was being added, so its content no longer matches. Add it again."
        : "The received data was damaged and was thrown away. Please try again.";
    case Code.InvalidArgument:
      return action === "login" ? LOGIN_RULES : "That request was not valid.";
    case Code.OutOfRange:
      return "That is out of range.";
    case Code.Aborted:
      return "The operation was interrupted. Please try again.";
    case Code.Unimplemented:
      return "This pserver does not support that yet.";
    case Code.Internal:
      return SERVER_FAILED;
    default:
      return SOMETHING_WENT_WRONG;
  }
}

/**
 * The one function that turns any error into a sentence a person understands: never a raw code, never
 * a stack. It switches on the reason the pserver gave; `action` says what the person was doing, since
 * the same reason or code can call for different words (a hash mismatch while adding a file means the
 * file changed on disk). Errors with no reason get a fixed sentence for their code.
 */
export function describeError(error: unknown, action?: Action): string {
  if (error instanceof UserFacingError) return error.message;
  if (!(error instanceof ConnectError)) {
    const name = error instanceof Error || error instanceof DOMException ? error.name : undefined;
    if (name === "NotReadableError" || (error instanceof DOMException && name === "NotFoundError")) {
      return "The file could not be read. It may have been moved or changed: pick it again.";
    }
    if (name === "QuotaExceededError") return DISK_IS_FULL;
    if (name === "AbortError") return CANCELLED;
    // fetch() rejects with a TypeError, and only then, when the request never got an answer.
    if (error instanceof TypeError) return PSERVER_UNREACHABLE;
    return SOMETHING_WENT_WRONG;
  }
  return describeReason(reasonOf(error), error.rawMessage, action) ?? describeCode(error.code, action);
}

/** Whether the error means the session token is no longer good, so the tab must log in again. */
export function isSessionEnded(error: unknown): boolean {
  if (!(error instanceof ConnectError)) return false;
  const reason = reasonOf(error);
  return reason === ErrorReason.SESSION_EXPIRED || (reason === ErrorReason.UNSPECIFIED && error.code === Code.Unauthenticated);
}

/** Reasons that go away by themselves: retrying the same call later may succeed. */
const PASSING = new Set([
  ErrorReason.RATE_LIMITED,
  ErrorReason.FILE_CHANGED,
  ErrorReason.STALLED,
  ErrorReason.DIRECTORY_UNREACHABLE,
  ErrorReason.NO_HOLDERS,
  ErrorReason.PEER_GONE,
  ErrorReason.SHUTTING_DOWN,
]);

/** Whether retrying the same call later may succeed (network blips, a restarting pserver, a busy peer). */
export function isTransient(error: unknown): boolean {
  if (error instanceof ConnectError) {
    const reason = reasonOf(error);
    if (PASSING.has(reason)) return true;
    // Any other reason this tab knows is a refusal that retrying will not change.
    if (reason !== ErrorReason.UNSPECIFIED && ErrorReason[reason] !== undefined) return false;
    // No reason: the pserver was not reached, or a proxy or the transport gave up on the way.
    return [Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Unknown].includes(error.code);
  }
  // fetch() rejects with a TypeError when the network fails.
  return error instanceof TypeError;
}
