// The content id as the browser peer computes it: @p2p/directory-api defines the construction once
// (m1_ + SHA-256 of the canonical manifest, whose entries are SHA-256 of each piece); this module binds
// it to WebCrypto and to the shapes the browser peer keeps.
import { canonicalManifestBytes as canonicalBytes, contentIdOf, manifestProblem, pieceCountFor, pieceSizeFor } from "@p2p/directory-api";

export { pieceSizeFor };

/** What a manifest says about a file, without its name (the name is not part of the content id). */
export interface ManifestFacts {
  /** Size of the file in bytes. */
  size: number;
  /** Bytes per piece (the last piece may be shorter). */
  pieceSize: number;
  /** Raw 32-byte SHA-256 of each piece, in order. */
  pieceHashes: readonly Uint8Array[];
}

/** SHA-256 with WebCrypto. */
async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** How many pieces a file of `size` bytes has with pieces of `pieceSize` bytes. */
export function pieceCountOf(size: number, pieceSize: number): number {
  return pieceCountFor(size, pieceSize);
}

/** Byte length of piece `index`. */
export function pieceLengthOf(facts: { size: number; pieceSize: number }, index: number): number {
  return Math.min(facts.pieceSize, facts.size - index * facts.pieceSize);
}

/** The canonical manifest bytes (throws for a manifest that is not canonical for its size). */
export function canonicalManifestBytes(facts: ManifestFacts): Uint8Array<ArrayBuffer> {
  return canonicalBytes(facts.size, facts.pieceSize, facts.pieceHashes) as Uint8Array<ArrayBuffer>;
}

/** The content id of a manifest (its piece size must be the one its size fixes). */
export function contentIdOfManifest(facts: ManifestFacts): Promise<string> {
  return contentIdOf(facts.size, facts.pieceHashes, sha256);
}

/**
 * Whether a manifest received from a holder is the one `contentId` names: canonical for its size
 * (piece size, count and length of the hashes) and hashing to the id.
 */
export async function manifestMatches(contentId: string, facts: ManifestFacts): Promise<boolean> {
  if (manifestProblem(facts.size, facts.pieceSize, facts.pieceHashes) !== undefined) return false;
  return (await contentIdOfManifest(facts)) === contentId;
}

/** Whether two digests are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
