import { contentIdOf as contentIdOfPieces, pieceSizeFor } from "@p2p/directory-api";
import { HASH_CACHE_MAX_ENTRIES } from "./constants.js";
import type { KeyValueStorage } from "./client/token-store.js";

/** Options of {@link contentIdOf}. */
export interface HashOptions {
  /** Largest read from the file (a piece is read in one or more of these); at most a piece. */
  sliceBytes?: number;
  /** Called after every piece with the bytes hashed so far. */
  onProgress?: (bytesHashed: number) => void;
  /** Stops hashing between two reads. */
  signal?: AbortSignal;
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/**
 * The content id of a file (docs/content-ids.md): `m1_` + SHA-256 of its canonical manifest, whose
 * entries are the SHA-256 of each piece (WebCrypto, one digest per piece).
 *
 * The bytes are read with a BYOB reader into one reused piece buffer, so hashing a 4 GiB file
 * allocates no per-read ArrayBuffers (measured: reading fresh 8 MiB slices left ~160 MB of garbage
 * buffers waiting for GC on a 1 GiB file). Where a Blob's stream is not a byte stream, it falls
 * back to Blob.slice reads of one piece, two pieces alive at most.
 */
export async function contentIdOf(blob: Blob, options: HashOptions = {}): Promise<string> {
  const pieceSize = pieceSizeFor(blob.size);
  const pieceHashes: Uint8Array[] = [];
  const reader = byobReader(blob);
  if (reader !== undefined) await readPiecesReusingOneBuffer(reader, blob.size, pieceSize, pieceHashes, options);
  else await readPiecesBySlices(blob, pieceSize, pieceHashes, options);
  options.signal?.throwIfAborted();
  if (pieceHashes.length * pieceSize < blob.size) throw new Error("The file got shorter while it was read.");
  return contentIdOfPieces(blob.size, pieceHashes, sha256);
}

function byobReader(blob: Blob): ReadableStreamBYOBReader | undefined {
  try {
    return blob.stream().getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

async function readPiecesReusingOneBuffer(
  reader: ReadableStreamBYOBReader,
  size: number,
  pieceSize: number,
  pieceHashes: Uint8Array[],
  options: HashOptions,
): Promise<void> {
  const readBytes = Math.min(pieceSize, options.sliceBytes ?? pieceSize);
  let buffer = new ArrayBuffer(pieceSize);
  let filled = 0;
  let offset = 0;
  try {
    while (offset < size) {
      options.signal?.throwIfAborted();
      const { value, done } = await reader.read(new Uint8Array(buffer, filled, Math.min(readBytes, pieceSize - filled)));
      if (done || value === undefined) break;
      // The read transferred the buffer; take it back for the next read.
      buffer = value.buffer as ArrayBuffer;
      filled += value.byteLength;
      offset += value.byteLength;
      if (filled === pieceSize || offset >= size) {
        pieceHashes.push(await sha256(new Uint8Array(buffer, 0, filled)));
        filled = 0;
        options.onProgress?.(offset);
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

async function readPiecesBySlices(blob: Blob, pieceSize: number, pieceHashes: Uint8Array[], options: HashOptions): Promise<void> {
  const read = (start: number): Promise<ArrayBuffer> | undefined =>
    start < blob.size ? blob.slice(start, Math.min(blob.size, start + pieceSize)).arrayBuffer() : undefined;
  let offset = 0;
  let next = read(0);
  while (next !== undefined) {
    options.signal?.throwIfAborted();
    const buffer = await next;
    offset += buffer.byteLength;
    // Start reading the next piece before hashing this one, so disk and CPU overlap.
    next = read(offset);
    pieceHashes.push(await sha256(new Uint8Array(buffer)));
    options.onProgress?.(offset);
  }
}

/** The identity of a picked file as far as the browser can tell without reading it. */
export interface FileIdentity {
  name: string;
  size: number;
  lastModified: number;
}

interface CacheEntry {
  key: string;
  contentId: string;
}

/**
 * Remembers the content id of files hashed before, keyed by name, size and modification time, so
 * that picking the same file again after a reload resumes its import without hashing 4 GiB again.
 * A stale entry can only cost a failed FinishImport (the pserver checks the whole file), never bad data.
 */
export class HashCache {
  #storage: KeyValueStorage | undefined;
  #key: string;

  constructor(storage: KeyValueStorage | undefined, storageKey: string) {
    this.#storage = storage;
    this.#key = storageKey;
  }

  /** The cached content id of the file, if any. */
  get(file: FileIdentity): string | undefined {
    const key = cacheKey(file);
    return this.#load().find((entry) => entry.key === key)?.contentId;
  }

  /** Remembers the content id of a file (newest first, bounded). */
  set(file: FileIdentity, contentId: string): void {
    const key = cacheKey(file);
    const entries = [{ key, contentId }, ...this.#load().filter((entry) => entry.key !== key)];
    this.#save(entries.slice(0, HASH_CACHE_MAX_ENTRIES));
  }

  /** Forgets a file (its bytes turned out not to match). */
  delete(file: FileIdentity): void {
    const key = cacheKey(file);
    this.#save(this.#load().filter((entry) => entry.key !== key));
  }

  #load(): CacheEntry[] {
    try {
      const parsed: unknown = JSON.parse(this.#storage?.getItem(this.#key) ?? "[]");
      if (!Array.isArray(parsed)) return [];
      return parsed.filter(
        (entry): entry is CacheEntry =>
          typeof entry === "object" && entry !== null && typeof entry.key === "string" && typeof entry.contentId === "string",
      );
    } catch {
      return [];
    }
  }

  #save(entries: CacheEntry[]): void {
    try {
      this.#storage?.setItem(this.#key, JSON.stringify(entries));
    } catch {
      // A full or disabled storage only costs a re-hash later.
    }
  }
}

function cacheKey(file: FileIdentity): string {
  return `${file.name}\u0000${file.size}\u0000${file.lastModified}`;
}
