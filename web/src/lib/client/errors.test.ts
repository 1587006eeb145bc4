import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { describeError, isTransient, UserFacingError, type Action } from "./errors.js";

describe("describeError", () => {
  const cases: { name: string; error: unknown; action?: Action; sentence: string }[] = [
    { name: "wrong password", error: new ConnectError("bad password", Code.Unauthenticated), action: "login", sentence: "Wrong username or password." },
    { name: "expired session", error: new ConnectError("no session", Code.Unauthenticated), action: "search", sentence: "Your session has ended. Please log in again." },
    { name: "file gone", error: new ConnectError("no live holder", Code.NotFound), action: "download", sentence: "That file is no longer available: no live peer holds it." },
    { name: "peer went away", error: new ConnectError("peer bob went away", Code.Unavailable), action: "upload", sentence: "The other peer went away before the transfer finished." },
    { name: "disk full", error: new ConnectError("ENOSPC: no space left on device", Code.ResourceExhausted), action: "import", sentence: "The disk is full. Free some space and try again." },
    { name: "disk full as internal", error: new ConnectError("write failed: ENOSPC", Code.Internal), action: "download", sentence: "The disk is full. Free some space and try again." },
    { name: "pserver's disk-full sentence", error: new ConnectError("The disk of the shared folder is full.", Code.ResourceExhausted), action: "import", sentence: "The disk is full. Free some space and try again." },
    { name: "not enough space for an import", error: new ConnectError("Not enough free disk space for 5 bytes (free: 1 bytes).", Code.ResourceExhausted), action: "import", sentence: "The disk is full. Free some space and try again." },
    { name: "another limit, told by the pserver", error: new ConnectError("At most 8 unfinished imports per session; finish or cancel one first.", Code.ResourceExhausted), action: "import", sentence: "At most 8 unfinished imports per session; finish or cancel one first." },
    { name: "not logged in at the directory", error: new ConnectError("This pserver is not logged in at the directory; log in first.", Code.FailedPrecondition), action: "search", sentence: "This peer is not logged in at the directory. Log out and in again." },
    { name: "pserver is another peer", error: new ConnectError('This pserver is the peer "alice"; log in as alice.', Code.PermissionDenied), action: "login", sentence: 'This pserver is the peer "alice"; log in as alice.' },
    { name: "directory down", error: new ConnectError("directory unreachable", Code.Unavailable), action: "login", sentence: "The directory can't be reached right now. Try again in a moment." },
    { name: "directory down on search", error: new ConnectError("upstream failed", Code.Unavailable), action: "search", sentence: "The directory can't be reached right now. Try again in a moment." },
    { name: "pserver down (fetch failed)", error: new ConnectError("Failed to fetch", Code.Unknown), action: "files", sentence: "This peer's server can't be reached. Check that it is running, then try again." },
    { name: "pserver down (proxy 502)", error: new ConnectError("HTTP 502", Code.Unavailable), action: "search", sentence: "This peer's server can't be reached. Check that it is running, then try again." },
    { name: "hash mismatch on import", error: new ConnectError("sha mismatch", Code.DataLoss), action: "import", sentence: "The file changed while it was being added, so its content no longer matches. Add it again." },
    { name: "chunks missing", error: new ConnectError("3 chunks missing", Code.FailedPrecondition), action: "import", sentence: "Some parts of the file did not arrive. Add the file again to send the rest." },
    { name: "a human server sentence", error: new ConnectError("That name is already used by another peer.", Code.PermissionDenied), action: "login", sentence: "That name is already used by another peer." },
    { name: "a technical server message", error: new ConnectError("[invalid_argument] content_id: must match ^[0-9a-f]{64}$", Code.InvalidArgument), action: "search", sentence: "That request was not valid." },
    { name: "a stack in a message", error: new ConnectError("TypeError: x is undefined\n    at foo (a.js:1:2)", Code.Internal), action: "files", sentence: "Something went wrong on this peer's server. Please try again." },
    { name: "plain browser network error", error: new TypeError("Failed to fetch"), sentence: "This peer's server can't be reached. Check that it is running, then try again." },
    { name: "unreadable local file", error: new DOMException("gone", "NotReadableError"), action: "import", sentence: "The file could not be read. It may have been moved or changed: pick it again." },
    { name: "our own sentence", error: new UserFacingError("Enter your username."), sentence: "Enter your username." },
    { name: "anything else", error: { weird: true }, sentence: "Something went wrong. Please try again." },
  ];

  it.each(cases)("$name", ({ error, action, sentence }) => {
    expect(describeError(error, action)).toBe(sentence);
  });

  it("never shows a code name or a stack for any code", () => {
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
});
