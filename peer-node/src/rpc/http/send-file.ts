// The bytes of a GET /files answer: a range of a held file written to the response through two buffers
// reused from the first byte to the last.
//
// Why not fs.createReadStream piped to the response: every read of a ReadStream allocates a new buffer
// outside the V8 heap, and V8 answers that much external memory with a full garbage collection every
// few tens of MB (~30 per GiB). A bare file server's heap is a few MB, so each costs little there; the
// pserver's is ~18 MB, and a 1 GiB save spent ~45% of its CPU marking it (perf, files-export bench): 1.3-1.5
// CPU-s per GiB against 0.4 for a bare node:http server. With two buffers for the whole answer there is
// nothing to collect. One buffer is filled while the other is written; it is filled again only once the
// response has handed its bytes on (the write's callback), never while the socket may still read from it.
import { FILE_EXPORT_READ_BYTES } from "../../constants.js";
import type { FileStore, SharedFile } from "../../store/file-store.js";
import type { AnyResponse } from "./respond.js";

/** Writes `chunk` and resolves once the response has handed it on; rejects when the response closes first. */
function written(res: AnyResponse, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    // A response whose connection is gone never calls a write's callback: its close says it instead.
    if (res.destroyed) {
      reject(new Error("The response closed before the file was sent."));
      return;
    }
    const onClose = () => reject(new Error("The response closed before the file was sent."));
    res.once("close", onClose);
    res.write(chunk, (err?: Error | null) => {
      res.off("close", onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

/**
 * Writes bytes [start, end] (inclusive) of a held file to `res` and ends it. Reads whole pieces through
 * the store (readPiece: the same reads, open-file cache and change check as pieces served to peers),
 * ~FILE_EXPORT_READ_BYTES at a time. Rejects when a read fails (the file changed or vanished) or the
 * response closes early; the caller then cuts the response.
 */
export async function sendFileRange(store: FileStore, file: SharedFile, start: number, end: number, res: AnyResponse): Promise<void> {
  const { pieceSize } = file;
  const firstPiece = Math.floor(start / pieceSize);
  const lastPiece = Math.floor(end / pieceSize);
  const piecesPerRead = Math.max(1, Math.floor(FILE_EXPORT_READ_BYTES / pieceSize));
  // No bigger than the pieces the range touches: a small file or range gets a small buffer.
  const bufferBytes = Math.min(piecesPerRead, lastPiece - firstPiece + 1) * pieceSize;
  const buffers: Buffer[] = [];
  let writing: Promise<void> | undefined;
  for (let piece = firstPiece, turn = 0; piece <= lastPiece; piece += piecesPerRead, turn++) {
    // The write that last used this buffer ended before the previous turn's write started.
    const buffer = (buffers[turn % 2] ??= Buffer.allocUnsafe(bufferBytes));
    let filled = 0;
    for (let i = piece; i < Math.min(piece + piecesPerRead, lastPiece + 1); i++) {
      const bytes = await store.readPiece(file.contentId, i, buffer.subarray(filled));
      filled += bytes.byteLength;
    }
    const offset = piece * pieceSize;
    const from = Math.max(0, start - offset);
    const to = Math.min(filled, end + 1 - offset);
    await writing;
    writing = written(res, buffer.subarray(from, to));
    // Rejections are awaited above (or given up with the answer); until then, not unhandled.
    writing.catch(() => undefined);
  }
  await writing;
  res.end();
}
