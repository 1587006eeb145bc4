import { contentIdOf as contentIdOfPieces, isContentId, PIECE_HASH_BYTES, pieceCountFor, pieceSizeFor } from "@p2p/directory-api";
import { HASH_CACHE_MAX_ENTRIES } from "./constants.js";
import type { KeyValueStorage } from "./client/token-store.js";
import { HashPool } from "./browser-peer/hash-pool.js";

/** Options of {@link contentIdOf}. */
export interface HashOptions {
  /** Called after every piece with the bytes hashed so far. */
  onProgress?: (bytesHashed: number) => void;
  /** Stops hashing between two pieces. */
  signal?: AbortSignal;
  /** Starts a hash worker (browser-peer/hash-workers.ts); without it the calling thread hashes. */
  createWorker?: () => Worker;
}

/** SHA-256 through WebCrypto (the browser's own, off the main thread). */
async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/**
 * The content id of a file, as every pserver computes it (docs/content-ids.md): the file is read in
 * pieces of pieceSizeFor(size) (1 MiB up to 8 GiB), each piece gets one WebCrypto SHA-256, and the id
 * is the SHA-256 of the canonical manifest over those hashes. Every byte is hashed once.
 *
 * Given `createWorker`, pieces are hashed in hash workers (browser-peer/hash-pool.ts), one per core:
 * WebCrypto's digest runs on the calling thread, so hashing on the page's thread used one core and held
 * up the page. Each lane
 * reads a piece (Blob.slice) and hands it to a hasher, so at most one piece per lane (a few MiB) is alive
 * at once whatever the file size.
 */
export async function contentIdOf(blob: Blob, options: HashOptions = {}): Promise<string> {
  const size = blob.size;
  const pieceSize = pieceSizeFor(size);
  const count = pieceCountFor(size, pieceSize);
  const hashes = new Uint8Array(count * PIECE_HASH_BYTES);
  const pool = new HashPool(options.createWorker);
  let next = 0;
  let hashed = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      options.signal?.throwIfAborted();
      const i = next++;
      const piece = await blob.slice(i * pieceSize, Math.min(size, (i + 1) * pieceSize)).arrayBuffer();
      const { digest } = await pool.digest(new Uint8Array(piece));
      hashes.set(digest, i * PIECE_HASH_BYTES);
      hashed += Math.min(pieceSize, size - i * pieceSize);
      options.onProgress?.(hashed);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(pool.lanes, Math.max(1, count)) }, () => lane()));
  } finally {
    pool.destroy();
  }
  options.signal?.throwIfAborted();
  return contentIdOfPieces(size, hashes, sha256);
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
 * Remembers the content id of files imported before (FinishImport answers it), keyed by name, size and
 * modification time, so that picking a file the folder already holds does not send it again.
 * A stale entry can only cost a failed FinishImport (the pserver checks the whole file), never bad data.
 * Entries of an older version (whole-file SHA-256 ids, no `m1_`) are dropped when read: those files are
 * hashed again the next time they are picked.
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
    const key = fileKey(file);
    return this.#load().find((entry) => entry.key === key)?.contentId;
  }

  /** Remembers the content id of a file (newest first, bounded). */
  set(file: FileIdentity, contentId: string): void {
    const key = fileKey(file);
    const entries = [{ key, contentId }, ...this.#load().filter((entry) => entry.key !== key)];
    this.#save(entries.slice(0, HASH_CACHE_MAX_ENTRIES));
  }

  /** Forgets a file (its bytes turned out not to match). */
  delete(file: FileIdentity): void {
    const key = fileKey(file);
    this.#save(this.#load().filter((entry) => entry.key !== key));
  }

  #load(): CacheEntry[] {
    try {
      const parsed: unknown = JSON.parse(this.#storage?.getItem(this.#key) ?? "[]");
      if (!Array.isArray(parsed)) return [];
      return parsed.filter(
        (entry): entry is CacheEntry =>
          typeof entry === "object" && entry !== null && typeof entry.key === "string" && isContentId(entry.contentId),
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

/** A picked file's name for itself as far as the browser can tell without reading it (name, size, modification time). */
export function fileKey(file: FileIdentity): string {
  return `${file.name}\u0000${file.size}\u0000${file.lastModified}`;
}

