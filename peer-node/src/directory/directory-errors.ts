// Domain errors of the directory link. They carry what went wrong in words a person can act on; the
// transport layer (ClientService, CLI) decides which status code each becomes.
import { UnavailableError } from "../errors.js";

/** The directory could not be reached, timed out, answered 5xx/429, or answered something unreadable. */
// An UnavailableError, so the transfers core and errors.ts treat it like any unreachable service.
export class DirectoryUnavailableError extends UnavailableError {}

/** The directory answered 401: wrong password, or a token it no longer knows. */
export class DirectoryUnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DirectoryUnauthorizedError";
  }
}

/** The directory answered 404 (unknown content id, no upload target, unknown or expired ticket). */
export class DirectoryNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DirectoryNotFoundError";
  }
}

/** The directory answered 409 (a ticket already redeemed). */
export class DirectoryConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DirectoryConflictError";
  }
}

/** The directory refused the request as invalid (400, 413): a bug on our side or input it does not accept. */
export class DirectoryRejectedError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "DirectoryRejectedError";
    this.status = status;
  }
}

/** This pserver holds no directory session right now (never logged in, or logged out). */
export class NotLoggedInError extends Error {
  constructor(message = "This pserver is not logged in at the directory; log in first.") {
    super(message);
    this.name = "NotLoggedInError";
  }
}
