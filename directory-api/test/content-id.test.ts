import { describe, expect, it } from "vitest";
import {
  canonicalManifestBytes,
  CONTENT_ID_PATTERN,
  contentIdFromManifestDigest,
  contentIdOf,
  isContentId,
  isLegacyContentId,
  MANIFEST_HEADER_BYTES,
  manifestProblem,
  MAX_PIECE_SIZE_BYTES,
  PATTERN_MESSAGES,
  pieceCountFor,
  pieceSizeFor,
} from "../src/index.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** SHA-256 through WebCrypto, as the tab computes it (Node has the same global). */
async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** The content id of `data`, hashing each piece then the canonical manifest. */
async function idOf(data: Uint8Array): Promise<string> {
  const pieceSize = pieceSizeFor(data.length);
  const hashes: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += pieceSize) hashes.push(await sha256(data.subarray(offset, offset + pieceSize)));
  return contentIdOf(data.length, hashes, sha256);
}

describe("content id text", () => {
  it.each([
    [`m1_${"a".repeat(64)}`, true],
    [`m1_${"0123456789abcdef".repeat(4)}`, true],
    [`m1_${"A".repeat(64)}`, false],
    [`m1_${"a".repeat(63)}`, false],
    [`m1_${"a".repeat(65)}`, false],
    [`m2_${"a".repeat(64)}`, false],
    ["a".repeat(64), false],
    [`m1_${"a".repeat(64)}\n`, false],
    [42, false],
  ])("%j is a content id: %s", (value, expected) => {
    expect(isContentId(value)).toBe(expected);
  });

  it("recognizes the old whole-file ids only to refuse them", () => {
    expect(isLegacyContentId("a".repeat(64))).toBe(true);
    expect(isLegacyContentId(`m1_${"a".repeat(64)}`)).toBe(false);
  });

  it("explains its pattern to a person", () => {
    expect(PATTERN_MESSAGES[CONTENT_ID_PATTERN]).toMatch(/^must be m1_ followed by 64 lower-case hex characters/);
  });
});

describe("pieceSizeFor", () => {
  it.each([
    [0, MiB],
    [1, MiB],
    [MiB, MiB],
    [8 * GiB, MiB],
    [8 * GiB + 1, 2 * MiB],
    [16 * GiB, 2 * MiB],
    [16 * GiB + 1, 4 * MiB],
    [128 * GiB, 16 * MiB],
    [1024 * GiB, MAX_PIECE_SIZE_BYTES],
    [Number.MAX_SAFE_INTEGER, MAX_PIECE_SIZE_BYTES],
  ])("a file of %d bytes has pieces of %d bytes", (size, expected) => {
    expect(pieceSizeFor(size)).toBe(expected);
  });

  it("keeps a manifest at 8192 pieces or fewer up to 128 GiB", () => {
    for (const size of [8 * GiB, 8 * GiB + 1, 100 * GiB, 128 * GiB]) expect(pieceCountFor(size, pieceSizeFor(size))).toBeLessThanOrEqual(8192);
  });

  it.each([-1, 1.5, Number.NaN])("refuses %d", (size) => {
    expect(() => pieceSizeFor(size)).toThrow(RangeError);
  });
});

describe("canonical manifest bytes", () => {
  it("is the magic, size u64 BE, piece size u32 BE, then the hashes", () => {
    const hashes = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
    const bytes = canonicalManifestBytes(MiB + 7, MiB, hashes);
    expect(new TextDecoder().decode(bytes.subarray(0, 16))).toBe("p2p-manifest-v1\n");
    expect(Array.from(bytes.subarray(16, 28))).toEqual([0, 0, 0, 0, 0, 0x10, 0, 7, 0, 0x10, 0, 0]);
    expect(bytes.length).toBe(MANIFEST_HEADER_BYTES + 64);
    expect(bytes[28]).toBe(1);
    expect(bytes[28 + 32]).toBe(2);
    expect(canonicalManifestBytes(MiB + 7, MiB, new Uint8Array(64).fill(3)).subarray(28)).toEqual(new Uint8Array(64).fill(3));
  });

  it("has no hashes for an empty file", () => {
    expect(canonicalManifestBytes(0, MiB, []).length).toBe(MANIFEST_HEADER_BYTES);
  });

  it.each([
    ["another piece size", 3 * MiB, 16 * 1024, [new Uint8Array(32)], /piece size 16384 is not the one/],
    ["too few hashes", 3 * MiB, MiB, [new Uint8Array(32)], /1 piece hashes, expected 3/],
    ["a short hash", MiB, MiB, [new Uint8Array(31)], /piece hash 0 is 31 bytes/],
  ])("refuses %s", (_what, size, pieceSize, hashes, message) => {
    expect(manifestProblem(size, pieceSize, hashes)).toMatch(message);
    expect(() => canonicalManifestBytes(size, pieceSize, hashes)).toThrow(message);
  });
});

describe("content id of a file", () => {
  // Computed independently (Python hashlib and struct.pack(">QI", size, pieceSize)) from the written construction.
  it.each([
    ["an empty file", new Uint8Array(0), "m1_42ebe2d9b7fa81a8e4a742af696792f36910c87fad78f8506a08959209e2367c"],
    ["hello\\n", new TextEncoder().encode("hello\n"), "m1_ce11fe69e5391303554231b2dc6dac584c59f0100569a2d9864c0d35ebb31fde"],
    [
      "2 MiB + 5 bytes of i % 251",
      Uint8Array.from({ length: 2 * MiB + 5 }, (_, i) => i % 251),
      "m1_5be02aea88d1f3b298a050b35c1cbd157fbfb696a5efffa512e17262c20e507e",
    ],
  ])("of %s is the known vector", async (_what, data, expected) => {
    expect(await idOf(data)).toBe(expected);
  });

  it("changes when one byte changes", async () => {
    const data = new Uint8Array(MiB + 1);
    const before = await idOf(data);
    data[MiB] = 1;
    expect(await idOf(data)).not.toBe(before);
  });

  it("writes a digest as m1_ and lower-case hex", () => {
    expect(contentIdFromManifestDigest(new Uint8Array(32).fill(0xab))).toBe(`m1_${"ab".repeat(32)}`);
    expect(() => contentIdFromManifestDigest(new Uint8Array(31))).toThrow(RangeError);
  });
});
