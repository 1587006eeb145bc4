import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { contentIdOfManifest, manifestMatches, pieceLengthOf, pieceSizeFor, type ManifestFacts } from "./content-id.js";

const MIB = 1024 * 1024;

function manifestOf(bytes: Uint8Array): ManifestFacts {
  const pieceSize = pieceSizeFor(bytes.byteLength);
  const pieceHashes: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += pieceSize) pieceHashes.push(createHash("sha256").update(bytes.subarray(at, at + pieceSize)).digest());
  return { size: bytes.byteLength, pieceSize, pieceHashes };
}

describe("the browser peer's content ids (WebCrypto over the shared construction)", () => {
  const bytes = randomBytes(2 * MIB + 5);
  const facts = manifestOf(bytes);

  it("names a manifest m1_ + SHA-256 of its canonical bytes, the same as node:crypto computes", async () => {
    const header = Buffer.alloc(12);
    header.writeBigUInt64BE(BigInt(facts.size), 0);
    header.writeUInt32BE(facts.pieceSize, 8);
    const expected = createHash("sha256").update(Buffer.concat([Buffer.from("p2p-manifest-v1\n"), header, ...facts.pieceHashes])).digest("hex");
    expect(await contentIdOfManifest(facts)).toBe(`m1_${expected}`);
    expect(pieceLengthOf(facts, 2)).toBe(5);
  });

  it("accepts the manifest its id names and refuses every lie a holder could tell", async () => {
    const id = await contentIdOfManifest(facts);
    expect(await manifestMatches(id, facts)).toBe(true);
    const otherHash = facts.pieceHashes.map((hash, i) => (i === 1 ? new Uint8Array(32).fill(7) : hash));
    expect(await manifestMatches(id, { ...facts, pieceHashes: otherHash })).toBe(false);
    expect(await manifestMatches(id, { ...facts, size: facts.size - 1 })).toBe(false);
    expect(await manifestMatches(id, { ...facts, pieceSize: 2 * MIB })).toBe(false);
    expect(await manifestMatches(id, { ...facts, pieceHashes: facts.pieceHashes.slice(1) })).toBe(false);
    expect(await manifestMatches(id, { ...facts, pieceHashes: [facts.pieceHashes[0]!, facts.pieceHashes[1]!, new Uint8Array(31)] })).toBe(false);
    expect(await manifestMatches(id, { ...facts, size: -1 })).toBe(false);
  });
});
