// The content id as the browser computes it: SHA-256 (WebCrypto) of the canonical manifest, whose
// piece hashes are SHA-256 of each piece. One definition of the construction lives in
// @p2p/directory-api; this module only binds it to WebCrypto and to the shapes the browser peer keeps.

/** What a manifest says about a file, without its name (the name is not part of the content id). */
export interface ManifestFacts {
  /** Size of the file in bytes. */
  size: number;
  /** Bytes per piece (the last piece may be shorter). */
  pieceSize: number;
  /** Raw 32-byte SHA-256 of each piece, in order. */
  pieceHashes: readonly Uint8Array[];
}

const MAGIC = new TextEncoder().encode("p2p-manifest-v1\n");
const MIB = 1024 * 1024;
/** Largest piece size of the construction. */
export const MAX_PIECE_SIZE_BYTES = 16 * MIB;
const PIECES_PER_MANIFEST = 8192;

/** The piece size of a file of `size` bytes: one file, one piece size, one id. */
export function pieceSizeFor(size: number): number {
  const wanted = Math.ceil(size / PIECES_PER_MANIFEST);
  let power = MIB;
  while (power < wanted) power *= 2;
  return Math.min(power, MAX_PIECE_SIZE_BYTES);
}

/** How many pieces a file of `size` bytes has with pieces of `pieceSize` bytes. */
export function pieceCountOf(size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize);
}

/** Byte length of piece `index`. */
export function pieceLengthOf(facts: { size: number; pieceSize: number }, index: number): number {
  return Math.min(facts.pieceSize, facts.size - index * facts.pieceSize);
}

/** The canonical manifest bytes: magic, size (u64 BE), piece size (u32 BE), the piece hashes. */
export function canonicalManifestBytes(facts: ManifestFacts): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(MAGIC.byteLength + 12 + facts.pieceHashes.length * 32);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setBigUint64(MAGIC.byteLength, BigInt(facts.size));
  view.setUint32(MAGIC.byteLength + 8, facts.pieceSize);
  let at = MAGIC.byteLength + 12;
  for (const hash of facts.pieceHashes) {
    out.set(hash, at);
    at += 32;
  }
  return out;
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}

/** The content id (`m1_` + hex SHA-256 of the canonical manifest) of a manifest. */
export async function contentIdOfManifest(facts: ManifestFacts): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", canonicalManifestBytes(facts));
  return `m1_${toHex(new Uint8Array(digest))}`;
}

/**
 * Whether a manifest received from a holder is the one `contentId` names: piece size as the
 * construction fixes it for the size, the right number of 32-byte hashes, and the id recomputed.
 */
export async function manifestMatches(contentId: string, facts: ManifestFacts): Promise<boolean> {
  if (!Number.isSafeInteger(facts.size) || facts.size < 0) return false;
  if (facts.pieceSize !== pieceSizeFor(facts.size)) return false;
  if (facts.pieceHashes.length !== pieceCountOf(facts.size, facts.pieceSize)) return false;
  if (facts.pieceHashes.some((hash) => hash.byteLength !== 32)) return false;
  return (await contentIdOfManifest(facts)) === contentId;
}

/** Whether two digests are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
