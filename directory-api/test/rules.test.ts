import { Compile } from "typebox/compile";
import { describe, expect, it } from "vitest";
import {
  addressProblem,
  FILE_NAME_MAX_BYTES,
  fileNameProblem,
  isPeerName,
  LoginResponse,
  passwordProblem,
  PATTERN_MESSAGES,
  queryLengthProblem,
  relayAddress,
  relayNameOf,
  SearchResponse,
  TOKEN_PATTERN,
  USERNAME_MAX_CHARS,
  utf8ByteLength,
} from "../src/index.js";

describe("peer names", () => {
  it.each([
    ["alice", true],
    ["a.b_c-9", true],
    ["u".repeat(USERNAME_MAX_CHARS), true],
    ["u".repeat(USERNAME_MAX_CHARS + 1), false],
    ["", false],
    ["../admin", false],
    ["mal\u0000lory", false],
    ["élodie", false],
  ])("%j is a peer name: %s", (value, expected) => {
    expect(isPeerName(value)).toBe(expected);
  });
});

describe("UTF-8 lengths", () => {
  it.each([
    ["", 0],
    ["abc", 3],
    ["é", 2],
    ["€", 3],
    ["😀", 4],
    ["\ud800", 3],
    ["\udc00x", 4],
  ])("%j is %d bytes", (text, bytes) => {
    expect(utf8ByteLength(text)).toBe(bytes);
  });

  it("bounds passwords in bytes, not characters", () => {
    expect(passwordProblem("1234567")).toBe("must be 8 to 1024 UTF-8 bytes long");
    expect(passwordProblem("12345678")).toBeUndefined();
    expect(passwordProblem("é".repeat(512))).toBeUndefined();
    expect(passwordProblem("é".repeat(513))).toBe("must be 8 to 1024 UTF-8 bytes long");
  });

  it("bounds search queries in bytes", () => {
    expect(queryLengthProblem("é".repeat(127))).toBeUndefined();
    expect(queryLengthProblem("é".repeat(128))).toBe("must be at most 255 UTF-8 bytes");
  });
});

describe("file names", () => {
  it.each([
    ["song.mp3", undefined],
    ["é".repeat(127), undefined],
    ["", "must not be empty"],
    [".", 'must not contain "/", "\\" or control characters, and must not be "." or ".."'],
    ["..", 'must not contain "/", "\\" or control characters, and must not be "." or ".."'],
    ["a/b", 'must not contain "/", "\\" or control characters, and must not be "." or ".."'],
    ["a\\b", 'must not contain "/", "\\" or control characters, and must not be "." or ".."'],
    ["a\u0000b", 'must not contain "/", "\\" or control characters, and must not be "." or ".."'],
    ["a\u001fb", 'must not contain "/", "\\" or control characters, and must not be "." or ".."'],
    ["a\u007fb", 'must not contain "/", "\\" or control characters, and must not be "." or ".."'],
    ["é".repeat(128), `must be at most ${FILE_NAME_MAX_BYTES} UTF-8 bytes`],
  ])("%j: %s", (name, problem) => {
    expect(fileNameProblem(name)).toBe(problem);
  });
});

describe("addresses", () => {
  const RULE = "must be an http:// or https:// URL with a host and a port, and no path but a browser peer's relay path /relay/<peer name>";
  it.each([
    ["http://127.0.0.1:7001", undefined],
    ["https://peer.example:443/", undefined],
    ["http://[::1]:7001", undefined],
    ["http://127.0.0.1", RULE],
    ["http://127.0.0.1:7001/admin", RULE],
    ["file:///etc/passwd", RULE],
    [`http://${"a".repeat(3000)}.example:80`, RULE],
    ["http://127.0.0.1:0", "must have a port from 1 to 65535"],
    ["http://127.0.0.1:65536", "must have a port from 1 to 65535"],
    ["http://[zz]:80", RULE],
    ["http://[:]:80", "is not a valid URL"],
    ["http://127.0.0.1:7001/relay/alice", undefined],
    ["https://gw.example:443/relay/a.b_c-d/", undefined],
    ["http://127.0.0.1:70000/relay/alice", "must have a port from 1 to 65535"],
    ["http://127.0.0.1:7001/relay/", RULE],
    ["http://127.0.0.1:7001/relay/alice/extra", RULE],
    ["http://127.0.0.1:7001/relay/al%20ice", RULE],
    [`http://127.0.0.1:7001/relay/${"a".repeat(65)}`, RULE],
  ])("%j: %s", (address, problem) => {
    expect(addressProblem(address)).toBe(problem);
  });

  it.each([
    ["http://127.0.0.1:7001/relay/alice", "alice", undefined],
    ["http://127.0.0.1:7001/relay/Alice", "alice", undefined],
    ["http://127.0.0.1:7001", "alice", undefined],
    ["http://127.0.0.1:7001/relay/alice", "mallory", 'must name the peer itself in its relay path (/relay/mallory), not "alice"'],
  ])("%j advertised by %j: %s", (address, peer, problem) => {
    expect(addressProblem(address, peer)).toBe(problem);
  });

  it("builds and reads relay addresses", () => {
    expect(relayAddress("http://127.0.0.1:7001/", "bob")).toBe("http://127.0.0.1:7001/relay/bob");
    expect(relayNameOf("http://127.0.0.1:7001/relay/bob")).toBe("bob");
    expect(relayNameOf("http://127.0.0.1:7001")).toBeUndefined();
  });
});

describe("response schemas", () => {
  const login = {
    token: "A".repeat(43),
    peer: { name: "alice", address: "http://127.0.0.1:7001" },
    heartbeatIntervalMs: 10_000,
    sessionTtlMs: 30_000,
    expiresAt: "2026-11-25T17:00:30.000Z",
  };

  it("accept what a directory answers and refuse anything out of bounds", () => {
    const check = Compile(LoginResponse);
    expect(check.Check(login)).toBe(true);
    expect(new RegExp(TOKEN_PATTERN).test(login.token)).toBe(true);
    expect(check.Check({ ...login, heartbeatIntervalMs: 1 })).toBe(false);
    expect(check.Check({ ...login, expiresAt: "tomorrow" })).toBe(false);
    expect(check.Check({ ...login, peer: { name: "../evil", address: "http://127.0.0.1:7001" } })).toBe(false);
    expect(check.Check({ ...login, token: "x".repeat(5000) })).toBe(false);
  });

  it("bound every field of a search answer", () => {
    const check = Compile(SearchResponse);
    const result = { contentId: `m1_${"a".repeat(64)}`, name: "song.mp3", size: 1, pieceSize: 16_384, holders: [], holderCount: 0 };
    expect(check.Check({ results: [result], total: 1, totalExact: true, nextOffset: null })).toBe(true);
    expect(check.Check({ results: [result], total: 1, totalExact: true, nextOffset: 0 })).toBe(false);
    expect(check.Check({ results: [{ ...result, name: "../x" }], total: 1, totalExact: true, nextOffset: null })).toBe(false);
    expect(check.Check({ results: [{ ...result, pieceSize: 1 }], total: 1, totalExact: true, nextOffset: null })).toBe(false);
    expect(check.Check({ results: [{ ...result, contentId: "A".repeat(64) }], total: 1, totalExact: true, nextOffset: null })).toBe(false);
  });
});
