import { Code, ConnectError } from "@connectrpc/connect";

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
  | "events";

/** An error whose message is already a sentence for a person (client-side checks, local file reads). */
export class UserFacingError extends Error {
  override readonly name = "UserFacingError";
}

const NETWORK_FAILURE = /failed to fetch|networkerror|network error|load failed|fetch failed|econnrefused|econnreset|socket hang up/i;
const DISK_FULL = /no space|enospc|edquot|disk\b.*\bfull\b|disk quota|not enough (free )?(disk )?space|out of (disk|space)|storage (is )?full/i;
const TOO_MANY = /rate limit|too many|slow down/i;
const PEER_GONE = /peer .*(went away|gone|left|offline|disconnect|unreachable|not live|not reachable)|holder.*(gone|unreachable|went away)|target.*(gone|offline|unreachable)/i;
const DIRECTORY = /directory/i;
const HTTP_STATUS_ONLY = /^HTTP \d{3}/;

const SESSION_ENDED = "Your session has ended. Please log in again.";
const PSERVER_UNREACHABLE = "This peer's server can't be reached. Check that it is running, then try again.";
const DIRECTORY_UNREACHABLE = "The directory can't be reached right now. Try again in a moment.";
const PEER_WENT_AWAY = "The other peer went away before the transfer finished.";
const DISK_IS_FULL = "The disk is full. Free some space and try again.";

/**
 * A server message fit to show as is: one line, starts like a sentence, no stack, no code tag.
 * The pserver's messages are written for people (the protocol says so); anything else is replaced.
 */
function asSentence(message: string): string | undefined {
  const text = message.trim();
  if (text.length < 4 || text.length > 200 || text.includes("\n")) return undefined;
  if (/^\[[a-z_]+\]/.test(text) || /\bat .+:\d+:\d+/.test(text) || /Error:/.test(text)) return undefined;
  if (!/^[A-Z]/.test(text)) return undefined;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/**
 * The one function that turns any error into a sentence a person understands: never a raw code,
 * never a stack. `action` says what the person was doing, since e.g. Unauthenticated means
 * "wrong password" at login and "session over" anywhere else.
 */
export function describeError(error: unknown, action?: Action): string {
  if (error instanceof UserFacingError) return error.message;
  if (!(error instanceof ConnectError)) {
    if (error instanceof DOMException || (error instanceof Error && error.name === "NotReadableError")) {
      const name = (error as Error).name;
      if (name === "NotReadableError" || name === "NotFoundError") {
        return "The file could not be read. It may have been moved or changed: pick it again.";
      }
      if (name === "QuotaExceededError") return DISK_IS_FULL;
      if (name === "AbortError") return "The operation was cancelled.";
    }
    if (error instanceof Error && NETWORK_FAILURE.test(error.message)) return PSERVER_UNREACHABLE;
    return "Something went wrong. Please try again.";
  }

  const message = error.rawMessage;
  switch (error.code) {
    case Code.Canceled:
      return "The operation was cancelled.";
    case Code.Unauthenticated:
      return action === "login" ? "Wrong username or password." : SESSION_ENDED;
    case Code.PermissionDenied:
      if (action === "login") return asSentence(message) ?? "This account is not allowed to log in here.";
      return asSentence(message) ?? "You are not allowed to do that.";
    case Code.NotFound:
      switch (action) {
        case "download":
          return "That file is no longer available: no live peer holds it.";
        case "upload":
          return PEER_GONE.test(message) || /peer/i.test(message)
            ? "That peer is no longer online. Choose another one or let the directory pick."
            : "That file is no longer in your shared folder.";
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
      return action === "import" ? "You already share this file." : (asSentence(message) ?? "That already exists.");
    case Code.ResourceExhausted:
      if (DISK_FULL.test(message)) return DISK_IS_FULL;
      if (TOO_MANY.test(message)) return "Too many requests right now. Wait a moment and try again.";
      // Other limits (e.g. unfinished imports per session) come as sentences from the pserver.
      return asSentence(message) ?? (action === "import" || action === "download" ? DISK_IS_FULL : "This peer is busy right now. Try again later.");
    case Code.Unavailable:
      if (HTTP_STATUS_ONLY.test(message)) return PSERVER_UNREACHABLE;
      if (PEER_GONE.test(message)) return PEER_WENT_AWAY;
      if (DIRECTORY.test(message)) return DIRECTORY_UNREACHABLE;
      if (action === "download") return "No peer holding this file can be reached right now. Try again later.";
      if (action === "upload") return PEER_WENT_AWAY;
      if (action === "import" || action === "events" || action === "status" || action === "files") {
        return NETWORK_FAILURE.test(message) ? PSERVER_UNREACHABLE : "This peer's server is busy or restarting. Try again in a moment.";
      }
      return DIRECTORY_UNREACHABLE;
    case Code.DeadlineExceeded:
      return "That took too long. Please try again.";
    case Code.FailedPrecondition:
      if (/not logged in|log ?in first/i.test(message)) return "This peer is not logged in at the directory. Log out and in again.";
      if (action === "import") {
        if (/cancel/i.test(message)) return "The import was cancelled.";
        return "Some parts of the file did not arrive. Add the file again to send the rest.";
      }
      return asSentence(message) ?? "That can't be done right now.";
    case Code.DataLoss:
      if (action === "import") {
        return "The file changed while it was being added, so its content no longer matches. Add it again.";
      }
      return "The received data was damaged and was thrown away. Please try again.";
    case Code.InvalidArgument:
      if (action === "login") {
        return asSentence(message) ?? "Usernames are 1 to 64 letters, digits, dots, dashes or underscores; passwords at least 8 characters.";
      }
      return asSentence(message) ?? "That request was not valid.";
    case Code.OutOfRange:
      return asSentence(message) ?? "That is out of range.";
    case Code.Aborted:
      return "The operation was interrupted. Please try again.";
    case Code.Unimplemented:
      return "This pserver does not support that yet.";
    case Code.Unknown:
    case Code.Internal:
      if (NETWORK_FAILURE.test(message)) return PSERVER_UNREACHABLE;
      if (DISK_FULL.test(message)) return DISK_IS_FULL;
      return "Something went wrong on this peer's server. Please try again.";
    default:
      return "Something went wrong. Please try again.";
  }
}

/** Whether the error means the session token is no longer good, so the tab must log in again. */
export function isSessionEnded(error: unknown): boolean {
  return error instanceof ConnectError && error.code === Code.Unauthenticated;
}

/** Whether retrying the same call later may succeed (network blips, a restarting pserver). */
export function isTransient(error: unknown): boolean {
  if (error instanceof ConnectError) {
    if (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded || error.code === Code.Aborted) return true;
    if (error.code === Code.Unknown || error.code === Code.Internal) return NETWORK_FAILURE.test(error.rawMessage);
    return false;
  }
  return error instanceof Error && NETWORK_FAILURE.test(error.message);
}
