// The directory's answers are checked against the contract's schemas: every field's type and bounds, a
// malformed answer refused whole, a malformed entry of a list dropped alone.
import { describe, expect, it } from "vitest";
import { parseErrorMessage, parseFile, parseLogin, parseSearchPage, parseUploadTarget, WireError } from "../../src/directory/wire.js";

const NOW = "2026-12-04T12:00:00.000Z";
const peer = (name: string, address = "http://127.0.0.1:7001/") => ({ name, address, lastSeenAt: NOW });
const result = (overrides: Record<string, unknown> = {}) => ({
  contentId: `m1_${"a".repeat(64)}`,
  name: "song.mp3",
  size: 10,
  pieceSize: 16_384,
  holders: [peer("alice")],
  holderCount: 1,
  ...overrides,
});

describe("directory answers", () => {
  it("a search page keeps the good results and holders and drops the malformed ones", () => {
    const page = parseSearchPage({
      results: [
        result({ holders: [peer("alice"), peer("mallory", "http://127.0.0.1:0"), peer("../evil")], holderCount: 3 }),
        result({ contentId: `m1_${"A".repeat(64)}` }),
        result({ contentId: `m1_${"b".repeat(64)}`, name: "a/b" }),
      ],
      total: 3,
      totalExact: true,
      nextOffset: null,
    });
    expect(page.results.map((r) => r.contentId)).toEqual([`m1_${"a".repeat(64)}`]);
    expect(page.results[0]?.holders).toEqual([{ name: "alice", address: "http://127.0.0.1:7001", lastSeenAt: new Date(NOW) }]);
    expect(page.nextOffset).toBeUndefined();
  });

  it("a search page without its total or with a negative next offset is unreadable", () => {
    expect(() => parseSearchPage({ results: [], totalExact: true, nextOffset: null })).toThrow(WireError);
    expect(() => parseSearchPage({ results: [], total: 0, totalExact: true, nextOffset: -1 })).toThrow(WireError);
  });

  it("a file name is bounded in UTF-8 bytes, as the directory bounds it", () => {
    expect(parseFile(result({ name: "é".repeat(127) })).name).toBe("é".repeat(127));
    expect(() => parseFile(result({ name: "é".repeat(128) }))).toThrow(/name/);
  });

  it("a login answer is checked field by field; a long heartbeat interval is shortened to ten minutes", () => {
    const login = { token: "t".repeat(43), peer: { name: "alice", address: "http://127.0.0.1:7001" }, heartbeatIntervalMs: 3_600_000, sessionTtlMs: 10_800_000, expiresAt: NOW };
    expect(parseLogin(login)).toEqual({ token: "t".repeat(43), peerName: "alice", heartbeatIntervalMs: 600_000, sessionTtlMs: 10_800_000, expiresAt: new Date(NOW) });
    expect(() => parseLogin({ ...login, heartbeatIntervalMs: 1 })).toThrow(/heartbeatIntervalMs/);
    expect(() => parseLogin({ ...login, expiresAt: "soon" })).toThrow(/expiresAt/);
    expect(() => parseLogin({ ...login, token: "" })).toThrow(/token/);
  });

  it("an upload target whose address has no usable port is refused", () => {
    const target = { peer: peer("bob", "http://127.0.0.1:7002"), ticket: "k".repeat(43), expiresAt: NOW };
    expect(parseUploadTarget(target).peer.address).toBe("http://127.0.0.1:7002");
    expect(() => parseUploadTarget({ ...target, peer: peer("bob", "http://127.0.0.1:70000") })).toThrow(/port/);
  });

  it("an error body's message is shown only when the body is the documented one", () => {
    expect(parseErrorMessage({ error: "Not Found", message: "no live peer holds it" })).toBe("no live peer holds it");
    expect(parseErrorMessage({ message: 42 })).toBeUndefined();
    expect(parseErrorMessage("Not Found")).toBeUndefined();
  });
});
