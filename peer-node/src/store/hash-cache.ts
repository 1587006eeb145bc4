// What the shared folder remembers across restarts, so unchanged files are never rehashed:
// - hash-cache.json: name -> (size, mtimeMs, inode, content id, piece size, first indexed);
// - manifests/<contentId>-<pieceSize>.sha256: the raw piece hashes, read when a manifest is asked for.
// Both are written atomically (temporary file + rename): a crash leaves the old or the new version.
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { HASH_BYTES, isContentId } from "./pieces.js";

/** One cached file description, valid while the file's (size, mtimeMs) stay the same. */
export interface CachedFile {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly contentId: string;
  readonly pieceSize: number;
  readonly addedAt: string;
}

interface CacheFileV1 {
  version: 1;
  files: Record<string, CachedFile>;
}

/** The on-disk hash cache of one shared folder. */
export class HashCache {
  readonly #path: string;
  readonly #manifestDir: string;
  readonly #logger: Logger;
  #files = new Map<string, CachedFile>();
  #dirty = false;
  #saving: Promise<void> = Promise.resolve();

  private constructor(dataDir: string, logger: Logger) {
    this.#path = join(dataDir, "hash-cache.json");
    this.#manifestDir = join(dataDir, "manifests");
    this.#logger = logger;
  }

  /** Loads the cache (an unreadable cache is treated as empty: it only costs rehashing). */
  static async load(dataDir: string, logger: Logger): Promise<HashCache> {
    const cache = new HashCache(dataDir, logger);
    await mkdir(cache.#manifestDir, { recursive: true });
    try {
      const parsed = JSON.parse(await readFile(cache.#path, "utf8")) as CacheFileV1;
      if (parsed.version === 1 && parsed.files && typeof parsed.files === "object") {
        for (const [name, f] of Object.entries(parsed.files)) {
          if (isContentId(f.contentId) && Number.isFinite(f.size) && Number.isFinite(f.mtimeMs)) cache.#files.set(name, f);
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") logger.warn({ err }, "hash cache unreadable; files will be rehashed");
    }
    return cache;
  }

  /** The cached description of `name` if its size and mtime still match. */
  lookup(name: string, size: number, mtimeMs: number): CachedFile | undefined {
    const f = this.#files.get(name);
    return f && f.size === size && f.mtimeMs === mtimeMs ? f : undefined;
  }

  /** A cached description under any name for the same inode, size and mtime (a file renamed while we were away). */
  lookupByInode(ino: number, size: number, mtimeMs: number): CachedFile | undefined {
    if (ino === 0) return undefined;
    for (const f of this.#files.values()) if (f.ino === ino && f.size === size && f.mtimeMs === mtimeMs) return f;
    return undefined;
  }

  /** Records a file's description. */
  put(name: string, file: CachedFile): void {
    this.#files.set(name, file);
    this.#dirty = true;
  }

  /** Forgets every name not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const name of this.#files.keys()) {
      if (!keep.has(name)) {
        this.#files.delete(name);
        this.#dirty = true;
      }
    }
  }

  /** Writes the cache if it changed (serialized, atomic). */
  save(): Promise<void> {
    if (!this.#dirty) return this.#saving;
    this.#dirty = false;
    const body: CacheFileV1 = { version: 1, files: Object.fromEntries(this.#files) };
    this.#saving = this.#saving.then(async () => {
      try {
        const tmp = `${this.#path}.tmp`;
        await writeFile(tmp, JSON.stringify(body));
        await rename(tmp, this.#path);
      } catch (err) {
        this.#logger.warn({ err }, "could not save the hash cache");
      }
    });
    return this.#saving;
  }

  /** Stores the piece hashes of a content. */
  async putPieceHashes(contentId: string, pieceSize: number, hashes: readonly Uint8Array[]): Promise<void> {
    const path = this.#manifestPath(contentId, pieceSize);
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, Buffer.concat(hashes.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength))));
    await rename(tmp, path);
  }

  /** The stored piece hashes of a content, or undefined when missing or of the wrong length. */
  async getPieceHashes(contentId: string, pieceSize: number, count: number): Promise<Buffer[] | undefined> {
    let raw: Buffer;
    try {
      raw = await readFile(this.#manifestPath(contentId, pieceSize));
    } catch {
      return undefined;
    }
    if (raw.length !== count * HASH_BYTES) return undefined;
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) out.push(raw.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
    return out;
  }

  /** Deletes stored piece hashes of contents no cached file has any more. */
  async pruneManifests(): Promise<void> {
    const keep = new Set([...this.#files.values()].map((f) => `${f.contentId}-${f.pieceSize}.sha256`));
    for (const entry of await readdir(this.#manifestDir)) {
      if (!keep.has(entry)) await rm(join(this.#manifestDir, entry), { force: true });
    }
  }

  #manifestPath(contentId: string, pieceSize: number): string {
    // Both parts were checked (content id hex, integer): nothing from a request reaches this path unchecked.
    return join(this.#manifestDir, `${contentId}-${pieceSize}.sha256`);
  }
}
