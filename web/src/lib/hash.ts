import { createSHA256 } from "hash-wasm";
import { HASH_CACHE_MAX_ENTRIES, HASH_SLICE_BYTES } from "./constants.js";
import type { KeyValueStorage } from "./client/token-store.js";

/** Options of {@link contentIdOf}. */
export interface HashOptions {
  /** Bytes read per step. */
  sliceBytes?: number;
  /** Called after every step with the bytes hashed so far. */
  onProgress?: (bytesHashed: number) => void;
  /** Stops hashing between two steps. */
  signal?: AbortSignal;
}

/**
 * The content id of a file: SHA-256 of all its bytes as 64 lower-case hex characters.
 *
 * WebCrypto has no streaming digest, so the bytes go through hash-wasm's incremental SHA-256.
 * They are read with a BYOB reader into one reused buffer, so hashing a 4 GiB file allocates no
 * per-slice ArrayBuffers at all (measured: reading fresh 8 MiB slices left ~160 MB of garbage
 * buffers waiting for GC on a 1 GiB file). Where a Blob's stream is not a byte stream, it falls
 * back to Blob.slice reads, two slices alive at most.
 */
export async function contentIdOf(blob: Blob, options: HashOptions = {}): Promise<string> {
  const sliceBytes = options.sliceBytes ?? HASH_SLICE_BYTES;
  const hasher = await createSHA256();
  hasher.init();
  const update = (bytes: Uint8Array): void => {
    hasher.update(bytes);
  };
  const reader = byobReader(blob);
  if (reader !== undefined) await readReusingOneBuffer(reader, sliceBytes, update, options);
  else await readBySlices(blob, sliceBytes, update, options);
  options.signal?.throwIfAborted();
  return hasher.digest("hex");
}

function byobReader(blob: Blob): ReadableStreamBYOBReader | undefined {
  try {
    return blob.stream().getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

async function readReusingOneBuffer(
  reader: ReadableStreamBYOBReader,
  bufferBytes: number,
  update: (bytes: Uint8Array) => void,
  options: HashOptions,
): Promise<void> {
  let buffer = new ArrayBuffer(bufferBytes);
  let offset = 0;
  let reportedAt = 0;
  try {
    while (true) {
      options.signal?.throwIfAborted();
      const { value, done } = await reader.read(new Uint8Array(buffer, 0, bufferBytes));
      if (done || value === undefined) break;
      update(value);
      offset += value.byteLength;
      // The read transferred the buffer; take it back for the next read.
      buffer = value.buffer as ArrayBuffer;
      // Progress at most once per buffer's worth: reads can be as small as a few KiB.
      if (offset - reportedAt >= bufferBytes) {
        reportedAt = offset;
        options.onProgress?.(offset);
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  if (offset !== reportedAt) options.onProgress?.(offset);
}

async function readBySlices(blob: Blob, sliceBytes: number, update: (bytes: Uint8Array) => void, options: HashOptions): Promise<void> {
  const read = (start: number): Promise<ArrayBuffer> | undefined =>
    start < blob.size ? blob.slice(start, Math.min(blob.size, start + sliceBytes)).arrayBuffer() : undefined;
  let offset = 0;
  let next = read(0);
  while (next !== undefined) {
    options.signal?.throwIfAborted();
    const buffer = await next;
    offset += buffer.byteLength;
    // Start reading the next slice before hashing this one, so disk and CPU overlap.
    next = read(offset);
    update(new Uint8Array(buffer));
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
