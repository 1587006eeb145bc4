// The content id: the one definition of its format. Everything that accepts, stores or checks a
// content id (the directory's schemas, the pserver, chaos, the tab) asks here, so that a new format
// changes this file and nothing else. docs/content-ids.md explains the construction and its reasons.
//
// A content id is `m1_` + hex SHA-256 of the file's canonical manifest:
//   "p2p-manifest-v1\n" | size (u64 BE) | pieceSize (u32 BE) | SHA-256 of each piece, in order.
// The piece size is a function of the file size (pieceSizeFor), so one file has exactly one id, and a
// manifest a holder sends can be checked against the id before a single piece is fetched. Hashing is
// injected (node:crypto in the pserver, WebCrypto in the tab): this module runs in both.

import { MAX_PIECE_SIZE_BYTES } from "./constants.js";

/** JSON Schema pattern of a content id: `m1_` and the SHA-256 of the canonical manifest in lower-case hex. */
export const CONTENT_ID_PATTERN = "^m1_[0-9a-f]{64}$";

/** What a content id looks like, for error messages ("contentId must be …"). */
export const CONTENT_ID_RULE = "must be m1_ followed by 64 lower-case hex characters (the SHA-256 of the file's manifest)";

/** What a content id is, for API descriptions. */
export const CONTENT_ID_DESCRIPTION = "m1_ + SHA-256 of the file's canonical manifest (size, piece size, piece hashes), 64 lower-case hex";

/** Prefix of every content id of this format; a later construction gets another prefix. */
export const CONTENT_ID_PREFIX = "m1_";

/** Pattern of the content ids of older versions (SHA-256 of the whole file), recognized only to refuse them clearly. */
export const LEGACY_CONTENT_ID_PATTERN = "^[0-9a-f]{64}$";

/** Sentence for a value in the old format, so a person with an old link knows what happened. */
export const LEGACY_CONTENT_ID_MESSAGE =
  "is a content id of an older version (SHA-256 of the whole file); content ids are now m1_ followed by 64 hex characters: ask for a new link, or run `peer-node hash FILE`";

/** Bytes of a piece hash (SHA-256). */
export const PIECE_HASH_BYTES = 32;

/** Smallest piece size pieceSizeFor picks (files up to MANIFEST_TARGET_PIECES of these use it). */
export const BASE_PIECE_SIZE_BYTES = 1024 * 1024;

/** Pieces a manifest has at most while the piece size is below MAX_PIECE_SIZE_BYTES (8192 * 1 MiB = 8 GiB). */
export const MANIFEST_TARGET_PIECES = 8192;

/** The ASCII header the canonical manifest starts with. */
export const MANIFEST_MAGIC = "p2p-manifest-v1\n";

const MAGIC_BYTES = new TextEncoder().encode(MANIFEST_MAGIC);
/** Bytes before the first piece hash: magic, u64 size, u32 piece size. */
export const MANIFEST_HEADER_BYTES = MAGIC_BYTES.length + 8 + 4;

const CONTENT_ID = new RegExp(CONTENT_ID_PATTERN);
const LEGACY_CONTENT_ID = new RegExp(LEGACY_CONTENT_ID_PATTERN);

/** Whether a value is a content id. */
export function isContentId(value: unknown): value is string {
  return typeof value === "string" && CONTENT_ID.test(value);
}

/** Whether a value is a content id of an older version (whole-file SHA-256), to refuse it with LEGACY_CONTENT_ID_MESSAGE. */
export function isLegacyContentId(value: unknown): value is string {
  return typeof value === "string" && LEGACY_CONTENT_ID.test(value);
}

/** The one piece size a file of `sizeBytes` is split into: max(1 MiB, nextPowerOfTwo(ceil(size / 8192))), at most 16 MiB. */
export function pieceSizeFor(sizeBytes: number): number {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new RangeError(`file size ${sizeBytes} is not a byte count`);
  const perPiece = Math.ceil(sizeBytes / MANIFEST_TARGET_PIECES);
  let pieceSize = BASE_PIECE_SIZE_BYTES;
  while (pieceSize < perPiece && pieceSize < MAX_PIECE_SIZE_BYTES) pieceSize *= 2;
  return pieceSize;
}

/** Number of pieces of a file of `sizeBytes` split into `pieceSizeBytes` (none for an empty file). */
export function pieceCountFor(sizeBytes: number, pieceSizeBytes: number): number {
  return Math.ceil(sizeBytes / pieceSizeBytes);
}

/**
 * The canonical manifest bytes whose SHA-256 is the content id. `pieceHashes` is either the list of
 * 32-byte hashes or their concatenation. Throws RangeError when the manifest is not the canonical one
 * for its size (another piece size, a wrong number of hashes): such a manifest has no id.
 */
export function canonicalManifestBytes(sizeBytes: number, pieceSizeBytes: number, pieceHashes: readonly Uint8Array[] | Uint8Array): Uint8Array {
  const problem = manifestProblem(sizeBytes, pieceSizeBytes, pieceHashes);
  if (problem !== undefined) throw new RangeError(problem);
  const count = pieceCountFor(sizeBytes, pieceSizeBytes);
  const out = new Uint8Array(MANIFEST_HEADER_BYTES + count * PIECE_HASH_BYTES);
  out.set(MAGIC_BYTES, 0);
  const view = new DataView(out.buffer);
  view.setBigUint64(MAGIC_BYTES.length, BigInt(sizeBytes), false);
  view.setUint32(MAGIC_BYTES.length + 8, pieceSizeBytes, false);
  if (pieceHashes instanceof Uint8Array) {
    out.set(pieceHashes, MANIFEST_HEADER_BYTES);
  } else {
    pieceHashes.forEach((hash, i) => out.set(hash, MANIFEST_HEADER_BYTES + i * PIECE_HASH_BYTES));
  }
  return out;
}

/** Why a manifest is not the canonical one for its size (a sentence), or undefined when it is. */
export function manifestProblem(sizeBytes: number, pieceSizeBytes: number, pieceHashes: readonly Uint8Array[] | Uint8Array): string | undefined {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) return `file size ${sizeBytes} is not a byte count`;
  const expected = pieceSizeFor(sizeBytes);
  if (pieceSizeBytes !== expected) return `piece size ${pieceSizeBytes} is not the one for ${sizeBytes} bytes (${expected})`;
  const count = pieceCountFor(sizeBytes, pieceSizeBytes);
  if (pieceHashes instanceof Uint8Array) {
    if (pieceHashes.length !== count * PIECE_HASH_BYTES) return `${pieceHashes.length} bytes of piece hashes, expected ${count * PIECE_HASH_BYTES}`;
    return undefined;
  }
  if (pieceHashes.length !== count) return `${pieceHashes.length} piece hashes, expected ${count}`;
  const bad = pieceHashes.findIndex((hash) => hash.length !== PIECE_HASH_BYTES);
  if (bad !== -1) return `piece hash ${bad} is ${pieceHashes[bad]?.length} bytes, expected ${PIECE_HASH_BYTES}`;
  return undefined;
}

/** The content id text of a canonical manifest, given SHA-256(canonical manifest bytes). */
export function contentIdFromManifestDigest(digest: Uint8Array): string {
  if (digest.length !== 32) throw new RangeError(`a manifest digest is 32 bytes, not ${digest.length}`);
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return CONTENT_ID_PREFIX + hex;
}

/** A SHA-256 function: node:crypto in the pserver, WebCrypto in the tab. */
export type Sha256 = (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** The content id of a file given its size and piece hashes (split at pieceSizeFor(size)), hashing with `sha256`. */
export async function contentIdOf(sizeBytes: number, pieceHashes: readonly Uint8Array[] | Uint8Array, sha256: Sha256): Promise<string> {
  const bytes = canonicalManifestBytes(sizeBytes, pieceSizeFor(sizeBytes), pieceHashes);
  return contentIdFromManifestDigest(await sha256(bytes));
}
