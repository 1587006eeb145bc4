import { isContentId } from "@p2p/directory-api";
import { HASH_CACHE_MAX_ENTRIES } from "./constants.js";
import type { KeyValueStorage } from "./client/token-store.js";

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

