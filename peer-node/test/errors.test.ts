// The error model's promises that no type checks: each reason comes with the code its proto comment
// names (clients rely on the pair), and the one table gives each code the Connect code and HTTP status
// of the same name.
import { readFile } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { PeerError, type Reason } from "../src/errors.js";
import { ErrorReason } from "../src/gen.js";
import { reasonOf, toConnectError, toHttpError } from "../src/rpc/error-mapping.js";

const reasons = Object.keys(ErrorReason).filter((k): k is Reason => Number.isNaN(Number(k)) && k !== "UNSPECIFIED");

describe("PeerError", () => {
  it("has, for every reason, the code the proto's comment on that value names", async () => {
    const proto = await readFile(new URL("../../proto/p2p/v1/types.proto", import.meta.url), "utf8");
    for (const reason of reasons) {
      // The comment block right above the value starts with "<code>:".
      const match = new RegExp(`((?:\\n *//[^\\n]*)+)\\n *ERROR_REASON_${reason} = `).exec(proto);
      const code = /\/\/ ([a-z_]+):/.exec(match?.[1] ?? "")?.[1];
      expect(code, reason).toBe(new PeerError(reason, "x").code);
    }
  });

  it("travels as the Connect code of the same name, with its reason and message, the original as cause", () => {
    for (const reason of reasons) {
      const err = new PeerError(reason, "A sentence for a person.");
      const sent = toConnectError(err);
      expect(Code[sent.code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c : `_${c}`)).toLowerCase(), reason).toBe(err.code);
      expect(reasonOf(sent)).toBe(reason);
      expect(sent.rawMessage).toBe("A sentence for a person.");
      expect(sent.cause).toBe(err);
    }
  });

  it("hides anything else as Internal Server Error, keeping it as cause", () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'size') at /srv/app.js:1:2");
    const sent = toConnectError(bug);
    expect([sent.code, sent.rawMessage, reasonOf(sent), sent.cause]).toEqual([Code.Internal, "Internal Server Error", "INTERNAL", bug]);
    expect(toHttpError(bug)).toEqual({ status: 500, body: { error: "Internal Server Error", message: "Internal Server Error", reason: "ERROR_REASON_INTERNAL" } });
    const connect = new ConnectError("deadline", Code.DeadlineExceeded);
    expect(toConnectError(connect)).toBe(connect);
  });

  it("has an HTTP status for every code, with the reason in the body", () => {
    const statuses = Object.fromEntries(reasons.map((r) => [r, toHttpError(new PeerError(r, "x")).status]));
    expect(statuses).toMatchObject({ FILE_NOT_HELD: 404, BAD_CONTENT_ID: 400, SESSION_EXPIRED: 401, WRONG_PEER: 403, ALREADY_HELD: 409, BAD_RANGE: 416, DISK_FULL: 429, DIRECTORY_UNREACHABLE: 503, INTERNAL: 500 });
    expect(toHttpError(new PeerError("FILE_NOT_HELD", "Not here."))).toEqual({ status: 404, body: { error: "Not Found", message: "Not here.", reason: "ERROR_REASON_FILE_NOT_HELD" } });
  });
});
