import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { describeError, isSessionEnded, isTransient, reasonOf, UserFacingError, type Action } from "./errors.js";
import { ErrorDetailSchema, ErrorReason } from "./gen.js";

/** An error as the pserver sends it: a code, its sentence, and the reason as an ErrorDetail. */
function sent(message: string, code: Code, reason: ErrorReason): ConnectError {
  return new ConnectError(message, code, undefined, [{ desc: ErrorDetailSchema, value: { reason } }]);
}

describe("describeError", () => {
  const cases: { name: string; error: unknown; action?: Action; sentence: string }[] = [
    { name: "wrong password", error: sent("bad password", Code.Unauthenticated, ErrorReason.WRONG_PASSWORD), action: "login", sentence: "Wrong username or password." },
    { name: "expired session", error: sent("no session", Code.Unauthenticated, ErrorReason.SESSION_EXPIRED), action: "search", sentence: "Your session has ended. Please log in again." },
    { name: "file gone", error: sent("no live holder", Code.NotFound, ErrorReason.NAME_NOT_SHARED), action: "download", sentence: "That file is no longer available: no live peer holds it." },
    { name: "peer went away", error: sent("peer bob went away", Code.Unavailable, ErrorReason.PEER_GONE), action: "upload", sentence: "The other peer went away before the transfer finished." },
    { name: "disk full", error: sent("ENOSPC: no space left on device", Code.ResourceExhausted, ErrorReason.DISK_FULL), action: "import", sentence: "The disk is full. Free some space and try again." },
    { name: "disk full during a download", error: sent("The disk filled up during the download.", Code.ResourceExhausted, ErrorReason.DISK_FULL), action: "download", sentence: "The disk is full. Free some space and try again." },
    // Changed on purpose: the text of an error is no longer read for causes. The pserver says DISK_FULL
    // whenever the disk fills; an internal error stays an internal error whatever its words.
    { name: "an internal error that mentions ENOSPC", error: new ConnectError("write failed: ENOSPC", Code.Internal), action: "download", sentence: "Something went wrong on this peer's server. Please try again." },
    { name: "pserver's disk-full sentence", error: sent("The disk of the shared folder is full.", Code.ResourceExhausted, ErrorReason.DISK_FULL), action: "import", sentence: "The disk is full. Free some space and try again." },
    { name: "not enough space for an import", error: sent("Not enough free disk space for 5 bytes (free: 1 bytes).", Code.ResourceExhausted, ErrorReason.DISK_FULL), action: "import", sentence: "The disk is full. Free some space and try again." },
    { name: "another limit, told by the pserver", error: sent("At most 8 unfinished imports per session; finish or cancel one first.", Code.ResourceExhausted, ErrorReason.TOO_MANY_IMPORTS), action: "import", sentence: "At most 8 unfinished imports per session; finish or cancel one first." },
    { name: "too many calls at once", error: sent("Too many streams from 127.0.0.1 at once (at most 8); retry shortly.", Code.ResourceExhausted, ErrorReason.RATE_LIMITED), action: "files", sentence: "Too many requests right now. Wait a moment and try again." },
    { name: "not logged in at the directory", error: sent("This pserver is not logged in at the directory; log in first.", Code.FailedPrecondition, ErrorReason.NOT_LOGGED_IN), action: "search", sentence: "This peer is not logged in at the directory. Log out and in again." },
    { name: "pserver is another peer", error: sent('This pserver is the peer "alice"; log in as alice.', Code.PermissionDenied, ErrorReason.WRONG_PEER), action: "login", sentence: 'This pserver is the peer "alice"; log in as alice.' },
    { name: "directory down", error: sent("directory unreachable", Code.Unavailable, ErrorReason.DIRECTORY_UNREACHABLE), action: "login", sentence: "The directory can't be reached right now. Try again in a moment." },
    { name: "directory down on search", error: sent("upstream failed", Code.Unavailable, ErrorReason.DIRECTORY_UNREACHABLE), action: "search", sentence: "The directory can't be reached right now. Try again in a moment." },
    { name: "no holder reachable", error: sent("No live peer holds this file right now.", Code.Unavailable, ErrorReason.NO_HOLDERS), action: "download", sentence: "No peer holding this file can be reached right now. Try again later." },
    { name: "the reason decides, not the words", error: sent("the directory says the peer is unreachable", Code.Unavailable, ErrorReason.SHUTTING_DOWN), action: "search", sentence: "This peer's server is restarting. Try again in a moment." },
    { name: "pserver down (fetch failed)", error: new ConnectError("Failed to fetch", Code.Unknown), action: "files", sentence: "This peer's server can't be reached. Check that it is running, then try again." },
    { name: "pserver down (proxy 502)", error: new ConnectError("HTTP 502", Code.Unavailable), action: "search", sentence: "This peer's server can't be reached. Check that it is running, then try again." },
    { name: "hash mismatch on import", error: sent("sha mismatch", Code.DataLoss, ErrorReason.HASH_MISMATCH), action: "import", sentence: "The file changed while it was being added, so its content no longer matches. Add it again." },
    { name: "chunks missing", error: sent("3 chunks missing", Code.FailedPrecondition, ErrorReason.CHUNKS_MISSING), action: "import", sentence: "Some parts of the file did not arrive. Add the file again to send the rest." },
    { name: "import cancelled", error: sent("The import was cancelled.", Code.FailedPrecondition, ErrorReason.IMPORT_CANCELLED), action: "import", sentence: "The import was cancelled." },
    { name: "import already finishing", error: sent("This import is already finishing.", Code.FailedPrecondition, ErrorReason.IMPORT_FINISHING), action: "import", sentence: "This file is already being added. Wait for it to finish." },
    { name: "nobody may receive the file", error: sent("No peer can receive this file now: no eligible peer", Code.FailedPrecondition, ErrorReason.NO_UPLOAD_TARGET), action: "upload", sentence: "No peer can receive this file now: no eligible peer." },
    { name: "a human server sentence", error: sent("That name is already used by another peer.", Code.PermissionDenied, ErrorReason.WRONG_PEER), action: "login", sentence: "That name is already used by another peer." },
    { name: "a pserver message that starts with a field", error: sent("limit must be 1 to 100 (0 means 20).", Code.InvalidArgument, ErrorReason.BAD_REQUEST), action: "search", sentence: "Limit must be 1 to 100 (0 means 20)." },
    { name: "a bad username at login", error: sent("username must be 1 to 64 characters", Code.InvalidArgument, ErrorReason.BAD_REQUEST), action: "login", sentence: "Usernames are 1 to 64 letters, digits, dots, dashes or underscores; passwords at least 8 characters." },
    { name: "a technical message with no reason", error: new ConnectError("[invalid_argument] content_id: must match ^[0-9a-f]{64}$", Code.InvalidArgument), action: "search", sentence: "That request was not valid." },
    { name: "a stack in a message", error: new ConnectError("TypeError: x is undefined\n    at foo (a.js:1:2)", Code.Internal), action: "files", sentence: "Something went wrong on this peer's server. Please try again." },
    { name: "a bug on the pserver", error: sent("Internal Server Error", Code.Internal, ErrorReason.INTERNAL), action: "files", sentence: "Something went wrong on this peer's server. Please try again." },
    { name: "a reason only other pservers see falls back on the code", error: sent("The push ticket was issued for another file.", Code.PermissionDenied, ErrorReason.TICKET_REFUSED), action: "upload", sentence: "You are not allowed to do that." },
    { name: "a reason this tab does not know falls back on the code", error: sent("from a newer pserver", Code.NotFound, 999 as ErrorReason), action: "cancel", sentence: "That transfer has already ended." },
    { name: "plain browser network error", error: new TypeError("Failed to fetch"), sentence: "This peer's server can't be reached. Check that it is running, then try again." },
    { name: "unreadable local file", error: new DOMException("gone", "NotReadableError"), action: "import", sentence: "The file could not be read. It may have been moved or changed: pick it again." },
    { name: "our own sentence", error: new UserFacingError("Enter your username."), sentence: "Enter your username." },
    { name: "anything else", error: { weird: true }, sentence: "Something went wrong. Please try again." },
  ];

  it.each(cases)("$name", ({ error, action, sentence }) => {
    expect(describeError(error, action)).toBe(sentence);
  });

  it("reads the reason as it arrives from the wire (binary detail)", () => {
    const error = new ConnectError("This pserver holds no file with that content id.", Code.NotFound);
    error.details.push({ type: ErrorDetailSchema.typeName, value: toBinary(ErrorDetailSchema, create(ErrorDetailSchema, { reason: ErrorReason.FILE_NOT_HELD })) });
    expect(reasonOf(error)).toBe(ErrorReason.FILE_NOT_HELD);
    expect(describeError(error, "remove")).toBe("That file is no longer in your shared folder.");
  });

  it("never shows a code name or a stack for any code without a reason", () => {
    for (let code = 1; code <= 16; code += 1) {
      for (const action of ["login", "download", "upload", "import", "search", undefined] as const) {
        const sentence = describeError(new ConnectError("internal detail at x.ts:1:2", code as Code), action);
        expect(sentence).toMatch(/^[A-Z].*[.!?]$/);
        expect(sentence).not.toMatch(/\[|\bcode\b|unavailable|x\.ts/i);
      }
    }
  });
});

describe("isTransient", () => {
  it("retries outages, not refusals", () => {
    expect(isTransient(new ConnectError("busy", Code.Unavailable))).toBe(true);
    expect(isTransient(new ConnectError("Failed to fetch", Code.Unknown))).toBe(true);
    expect(isTransient(new ConnectError("nope", Code.PermissionDenied))).toBe(false);
    expect(isTransient(new ConnectError("bad", Code.DataLoss))).toBe(false);
  });

  it("goes by the reason when there is one", () => {
    expect(isTransient(sent("directory unreachable", Code.Unavailable, ErrorReason.DIRECTORY_UNREACHABLE))).toBe(true);
    expect(isTransient(sent("too many streams", Code.ResourceExhausted, ErrorReason.RATE_LIMITED))).toBe(true);
    expect(isTransient(sent("disk full", Code.ResourceExhausted, ErrorReason.DISK_FULL))).toBe(false);
    expect(isTransient(sent("Internal Server Error", Code.Internal, ErrorReason.INTERNAL))).toBe(false);
    expect(isTransient(new TypeError("Failed to fetch"))).toBe(true);
  });
});

describe("isSessionEnded", () => {
  it("is an expired session, not a wrong password", () => {
    expect(isSessionEnded(sent("A client session is required.", Code.Unauthenticated, ErrorReason.SESSION_EXPIRED))).toBe(true);
    expect(isSessionEnded(sent("wrong password", Code.Unauthenticated, ErrorReason.WRONG_PASSWORD))).toBe(false);
    expect(isSessionEnded(new ConnectError("unauthenticated", Code.Unauthenticated))).toBe(true);
    expect(isSessionEnded(sent("The disk is full.", Code.ResourceExhausted, ErrorReason.DISK_FULL))).toBe(false);
  });
});
