// What the shared folder remembers across restarts, so unchanged files are never rehashed:
// - hash-cache.json: name -> (size, mtimeMs, inode, content id, piece size, first indexed);
// - manifests/<contentId>-<pieceSize>.sha256: the raw piece hashes, read when a manifest is asked for.
// Both are written atomically (temporary file + rename): a crash leaves the old or the new version.
//
// Version 1 of the cache named files by whole-file SHA-256 ids. At load it is migrated: an entry whose
// stored piece hashes are at the piece size the file now gets (pieceSizeFor: 1 MiB up to 8 GiB, what
// version 1 used by default) gets its new id from them without reading the file; any other entry is
// dropped, and the scan rehashes that file. The old manifests are pruned after the scan.
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { contentIdOfManifest, HASH_BYTES, isContentId, isLegacyContentId, pieceCount, pieceSizeFor } from "./pieces.js";

/** One cached file description, valid while the file's (size, mtimeMs) stay the same. */
export interface CachedFile {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly contentId: string;
  readonly pieceSize: number;
  readonly addedAt: string;
}

/** The cache file; version 1 held whole-file content ids (migrated at load). */
interface CacheFile {
  version: 1 | 2;
  files: Record<string, CachedFile>;
}

/** The version this code writes. */
const CACHE_VERSION = 2;

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
      const parsed = JSON.parse(await readFile(cache.#path, "utf8")) as CacheFile;
      if (parsed.files && typeof parsed.files === "object") {
        if (parsed.version === CACHE_VERSION) {
          for (const [name, f] of Object.entries(parsed.files)) {
            if (isContentId(f.contentId) && Number.isFinite(f.size) && Number.isFinite(f.mtimeMs)) cache.#files.set(name, f);
          }
        } else if (parsed.version === 1) {
          await cache.#migrateV1(parsed.files);
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") logger.warn({ err }, "hash cache unreadable; files will be rehashed");
    }
    return cache;
  }

  /** Moves version 1 entries (whole-file ids) to content ids over their stored piece hashes; see the file comment. */
  async #migrateV1(files: Record<string, CachedFile>): Promise<void> {
    let moved = 0;
    let dropped = 0;
    for (const [name, f] of Object.entries(files)) {
      const usable =
        isLegacyContentId(f.contentId) && Number.isSafeInteger(f.size) && f.size >= 0 && Number.isFinite(f.mtimeMs) && f.pieceSize === pieceSizeFor(f.size);
      const hashes = usable ? await this.getPieceHashes(f.contentId, f.pieceSize, pieceCount(f.size, f.pieceSize)) : undefined;
      if (!hashes) {
        dropped++;
        continue;
      }
      const contentId = contentIdOfManifest(f.size, f.pieceSize, hashes);
      try {
        await this.putPieceHashes(contentId, f.pieceSize, hashes);
      } catch (err) {
        this.#logger.warn({ err }, "could not store piece hashes");
        dropped++;
        continue;
      }
      this.#files.set(name, { ...f, contentId });
      moved++;
    }
    this.#dirty = true;
    this.#logger.warn(
      { moved, rehash: dropped },
      "hash cache of an older version (whole-file content ids) migrated: files with stored piece hashes got their new ids without rehashing, the others are hashed again",
    );
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
    const body: CacheFile = { version: CACHE_VERSION, files: Object.fromEntries(this.#files) };
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
    // Both parts were checked (a content id of either format, an integer): nothing from a request reaches this path unchecked.
    return join(this.#manifestDir, `${contentId}-${pieceSize}.sha256`);
  }
}
