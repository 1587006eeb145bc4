// Pieces, hashes and manifests: the arithmetic every side of a transfer must agree on.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  MAX_PIECE_SIZE_BYTES,
  MAX_PIECES_PER_FILE,
  MIN_PIECE_SIZE_BYTES,
} from "../constants.js";
import {
  canonicalManifestBytes,
  CONTENT_ID_RULE,
  contentIdFromManifestDigest,
  isContentId,
  isLegacyContentId,
  LEGACY_CONTENT_ID_MESSAGE,
  manifestProblem,
  pieceSizeFor,
} from "@p2p/directory-api";
import { PeerError } from "../errors.js";
import type { Manifest } from "./file-store.js";

/** Bytes in one SHA-256 digest. */
export const HASH_BYTES = 32;

export { isContentId, isLegacyContentId, pieceSizeFor } from "@p2p/directory-api";

/** Throws a BAD_CONTENT_ID PeerError unless `s` is a content id (an old-format id gets a sentence saying so). */
export function checkContentId(s: unknown, field = "A content id"): string {
  if (isContentId(s)) return s;
  if (isLegacyContentId(s)) throw new PeerError("BAD_CONTENT_ID", `${field} ${LEGACY_CONTENT_ID_MESSAGE}.`);
  throw new PeerError("BAD_CONTENT_ID", `${field} ${CONTENT_ID_RULE}.`);
}

/** The content id a manifest's size, piece size and piece hashes name (it must be the canonical one: see pieceSizeFor). */
export function contentIdOfManifest(size: number, pieceSize: number, pieceHashes: readonly Uint8Array[] | Uint8Array): string {
  return contentIdFromManifestDigest(sha256(canonicalManifestBytes(size, pieceSize, pieceHashes)));
}

/** Number of pieces of a file: ceil(size / pieceSize), 0 for an empty file. */
export function pieceCount(size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize);
}

/** Length of piece `index`: pieceSize, or what is left for the last piece. */
export function pieceLength(size: number, pieceSize: number, index: number): number {
  return Math.min(pieceSize, size - index * pieceSize);
}

/** Raw SHA-256 of some bytes. */
export function sha256(data: Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}

/** Whether two byte arrays are equal. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * Throws a BAD_MANIFEST PeerError unless a manifest is the one its content id names: a content id, a size
 * that is a safe integer, the piece size pieceSizeFor(size), exactly ceil(size / pieceSize) hashes of 32
 * bytes, and SHA-256 of the canonical manifest bytes equal to the id. A manifest that passes describes
 * the file the id names, so every piece that matches its hash is a piece of that file.
 */
export function checkManifest(m: Manifest, expectedContentId?: string): Manifest {
  if (!isContentId(m.contentId)) throw new PeerError("BAD_MANIFEST", `The manifest's content id ${CONTENT_ID_RULE}.`);
  if (expectedContentId !== undefined && m.contentId !== expectedContentId) {
    throw new PeerError("BAD_MANIFEST", "The manifest is for another content id.");
  }
  if (!Number.isSafeInteger(m.size) || m.size < 0) throw new PeerError("BAD_MANIFEST", "The manifest's size is not a valid byte count.");
  if (!Number.isInteger(m.pieceSize) || m.pieceSize < MIN_PIECE_SIZE_BYTES || m.pieceSize > MAX_PIECE_SIZE_BYTES) {
    throw new PeerError(
      "BAD_MANIFEST",
      `The manifest's piece size ${m.pieceSize} is outside ${MIN_PIECE_SIZE_BYTES}..${MAX_PIECE_SIZE_BYTES} bytes.`,
    );
  }
  const count = pieceCount(m.size, m.pieceSize);
  if (count > MAX_PIECES_PER_FILE) throw new PeerError("BAD_MANIFEST", `The manifest has more than ${MAX_PIECES_PER_FILE} pieces.`);
  const problem = manifestProblem(m.size, m.pieceSize, m.pieceHashes);
  if (problem !== undefined) throw new PeerError("BAD_MANIFEST", `The manifest is not the one its content id names: ${problem}.`);
  if (contentIdOfManifest(m.size, m.pieceSize, m.pieceHashes) !== m.contentId) {
    throw new PeerError("BAD_MANIFEST", "The manifest's piece hashes do not add up to its content id.");
  }
  return m;
}

/** The result of hashing a file. */
export interface FileHashes {
  readonly contentId: string;
  readonly size: number;
  readonly pieceSize: number;
  readonly pieceHashes: Buffer[];
}

/**
 * Hashes a file in one sequential read: each piece's SHA-256 at pieceSizeFor(size), then the content id
 * over the canonical manifest (every byte is hashed once). `expectedSize` guards against a file that
 * grows or shrinks while it is read.
 */
export async function hashFile(path: string, expectedSize: number, signal?: AbortSignal): Promise<FileHashes> {
  const pieceSize = pieceSizeFor(expectedSize);
  const pieceHashes: Buffer[] = [];
  let piece = createHash("sha256");
  let inPiece = 0;
  let size = 0;
  const stream = createReadStream(path, { highWaterMark: Math.min(pieceSize, 4 * 1024 * 1024), signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > expectedSize) break;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(pieceSize - inPiece, chunk.length - offset);
      piece.update(chunk.subarray(offset, offset + take));
      inPiece += take;
      offset += take;
      if (inPiece === pieceSize) {
        pieceHashes.push(piece.digest());
        piece = createHash("sha256");
        inPiece = 0;
      }
    }
  }
  if (inPiece > 0) pieceHashes.push(piece.digest());
  if (size !== expectedSize) throw new Error(`file size changed while hashing (${expectedSize} -> ${size})`);
  return { contentId: contentIdOfManifest(size, pieceSize, pieceHashes), size, pieceSize, pieceHashes };
}
