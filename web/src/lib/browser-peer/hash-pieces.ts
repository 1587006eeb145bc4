// A Blob read and hashed piece by piece, the way the browser peer adds a file (import-job.ts): each
// piece is read with Blob.slice and hashed in a hash worker (hash-pool.ts, WebAssembly), a few pieces
// in hand at once whatever the file's size. contentIdOf is the same loop ending in the content id
// (docs/content-ids.md); e2e/hash.e2e.test.ts runs it in Chromium against `peer-node hash` on the same bytes.
import { contentIdOfManifest, pieceCountOf, pieceSizeFor } from "./content-id.js";
import { HashPool } from "./hash-pool.js";

/** Options of {@link hashPieces} and {@link contentIdOf}. */
export interface HashPiecesOptions {
  /** Stops between two pieces. */
  signal?: AbortSignal;
  /** Starts a hash worker (hash-workers.ts's createHashWorker); without it the calling thread hashes. */
  createWorker?: () => Worker;
}

/**
 * The SHA-256 of each piece of `blob` (pieces of `pieceSize` bytes, the last one shorter), in order.
 * `onPiece` gets every piece with its digest as soon as it is hashed (pieces can arrive out of order);
 * the piece's memory is the caller's until `onPiece` returns.
 */
export async function hashPieces(
  blob: Blob,
  pieceSize: number,
  onPiece: (index: number, bytes: Uint8Array<ArrayBuffer>, digest: Uint8Array) => void,
  options: HashPiecesOptions = {},
): Promise<Uint8Array[]> {
  const size = blob.size;
  const count = pieceCountOf(size, pieceSize);
  const digests: Uint8Array[] = new Array<Uint8Array>(count);
  const pool = new HashPool(options.createWorker);
  let next = 0;
  // Each lane reads a piece and has a hasher hash it: reading, hashing and the caller's work overlap.
  const lane = async (): Promise<void> => {
    while (next < count) {
      options.signal?.throwIfAborted();
      const index = next++;
      const read = await blob.slice(index * pieceSize, Math.min(size, (index + 1) * pieceSize)).arrayBuffer();
      const { digest, bytes } = await pool.digest(new Uint8Array(read));
      digests[index] = digest;
      onPiece(index, bytes, digest);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(pool.lanes, Math.max(1, count)) }, () => lane()));
  } finally {
    pool.destroy();
  }
  options.signal?.throwIfAborted();
  return digests;
}

/** The content id of `blob`'s bytes, as every pserver computes it (`peer-node hash FILE`). */
export async function contentIdOf(blob: Blob, options: HashPiecesOptions = {}): Promise<string> {
  const size = blob.size;
  const pieceSize = pieceSizeFor(size);
  const pieceHashes = await hashPieces(blob, pieceSize, () => undefined, options);
  return contentIdOfManifest({ size, pieceSize, pieceHashes });
}
