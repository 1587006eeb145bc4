import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nodeContentIdOf } from "../testing/content-id.js";
import { contentIdOf, hashPieces } from "./hash-pieces.js";

const MiB = 1024 * 1024;

describe("contentIdOf", () => {
  // Node has WebCrypto and Blob too; e2e/hash.e2e.test.ts runs the same function in Chromium, with its hash workers.
  it.each([0, 1, 4096, MiB - 1, MiB, MiB + 1, 3 * MiB + 5])("matches node's construction for %i bytes", async (size) => {
    const bytes = randomBytes(size);
    const id = await contentIdOf(new Blob([bytes]));
    expect(id).toBe(nodeContentIdOf(bytes));
    expect(id).toMatch(/^m1_[0-9a-f]{64}$/);
  });

  it("is the known id of hello\\n", async () => {
    expect(await contentIdOf(new Blob(["hello\n"]))).toBe("m1_ce11fe69e5391303554231b2dc6dac584c59f0100569a2d9864c0d35ebb31fde");
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(contentIdOf(new Blob([randomBytes(10)]), { signal: controller.signal })).rejects.toThrow();
  });
});

describe("hashPieces", () => {
  it("hands every piece over once with its bytes, and returns the digests in order", async () => {
    const bytes = randomBytes(3 * MiB + 5);
    const seen = new Map<number, number>();
    const digests = await hashPieces(new Blob([bytes]), MiB, (index, piece, digest) => {
      expect(seen.has(index)).toBe(false);
      expect(Buffer.from(piece).equals(bytes.subarray(index * MiB, (index + 1) * MiB))).toBe(true);
      expect(digest).toHaveLength(32);
      seen.set(index, piece.byteLength);
    });
    expect([...seen.entries()].sort((a, b) => a[0] - b[0])).toEqual([[0, MiB], [1, MiB], [2, MiB], [3, 5]]);
    expect(digests).toHaveLength(4);
    for (let i = 0; i < 4; i++) expect(Buffer.from(digests[i]!).equals(Buffer.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.subarray(i * MiB, (i + 1) * MiB)))))).toBe(true);
  });
});
