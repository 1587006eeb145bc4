// Pieces, hashes and manifests: the arithmetic every side of a transfer must agree on.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  MAX_PIECE_SIZE_BYTES,
  MAX_PIECES_PER_FILE,
  MIN_PIECE_SIZE_BYTES,
} from "../constants.js";
import { PeerError } from "../errors.js";
import type { Manifest } from "./file-store.js";

/** Bytes in one SHA-256 digest. */
export const HASH_BYTES = 32;

const CONTENT_ID = /^[0-9a-f]{64}$/;

/** Whether a string is a content id: 64 lower-case hex characters. */
export function isContentId(s: unknown): s is string {
  return typeof s === "string" && CONTENT_ID.test(s);
}

/** Throws a BAD_CONTENT_ID PeerError unless `s` is a content id. */
export function checkContentId(s: unknown): string {
  if (!isContentId(s)) throw new PeerError("BAD_CONTENT_ID", "A content id is 64 lower-case hex characters.");
  return s;
}

/** Number of pieces of a file: ceil(size / pieceSize), 0 for an empty file. */
export function pieceCount(size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize);
}

/** Length of piece `index`: pieceSize, or what is left for the last piece. */
export function pieceLength(size: number, pieceSize: number, index: number): number {
  return Math.min(pieceSize, size - index * pieceSize);
}

/**
 * The piece size for a file: the preferred one, doubled as often as needed so the file has at most
 * MAX_PIECES_PER_FILE pieces (a manifest must fit in one message), never above MAX_PIECE_SIZE_BYTES.
 */
export function choosePieceSize(size: number, preferred: number): number {
  let pieceSize = preferred;
  while (pieceCount(size, pieceSize) > MAX_PIECES_PER_FILE && pieceSize * 2 <= MAX_PIECE_SIZE_BYTES) pieceSize *= 2;
  return pieceSize;
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
 * Throws a BAD_MANIFEST PeerError unless a manifest adds up: a content id, a size that is a safe integer, a
 * piece size within bounds, and exactly ceil(size / pieceSize) hashes of 32 bytes. It cannot prove the
 * hashes match the content id: only the whole file can, at the end.
 */
export function checkManifest(m: Manifest, expectedContentId?: string): Manifest {
  if (!isContentId(m.contentId)) throw new PeerError("BAD_MANIFEST", "The manifest's content id is not 64 lower-case hex characters.");
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
  if (m.pieceHashes.length !== count) {
    throw new PeerError("BAD_MANIFEST", `The manifest lists ${m.pieceHashes.length} piece hashes for ${count} pieces.`);
  }
  if (m.pieceHashes.some((h) => h.length !== HASH_BYTES)) throw new PeerError("BAD_MANIFEST", "A piece hash in the manifest is not 32 bytes.");
  return m;
}

/** A short digest of what makes two manifests interchangeable (size, piece size, piece hashes). */
export function manifestFingerprint(m: Manifest): string {
  const h = createHash("sha256").update(`${m.contentId}:${m.size}:${m.pieceSize}:`);
  for (const ph of m.pieceHashes) h.update(ph);
  return h.digest("hex");
}

/** The result of hashing a file. */
export interface FileHashes {
  readonly contentId: string;
  readonly size: number;
  readonly pieceSize: number;
  readonly pieceHashes: Buffer[];
}

/**
 * Hashes a file in one sequential read: the whole-file SHA-256 (content id) and each piece's SHA-256.
 * `expectedSize` guards against a file that grows or shrinks while it is read.
 */
export async function hashFile(path: string, pieceSize: number, expectedSize: number, signal?: AbortSignal): Promise<FileHashes> {
  const whole = createHash("sha256");
  const pieceHashes: Buffer[] = [];
  let piece = createHash("sha256");
  let inPiece = 0;
  let size = 0;
  const stream = createReadStream(path, { highWaterMark: Math.min(pieceSize, 4 * 1024 * 1024), signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    whole.update(chunk);
    size += chunk.length;
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
  return { contentId: whole.digest("hex"), size, pieceSize, pieceHashes };
}
