// The shared folder: the files this pserver offers, indexed by content id, kept in step with the disk.
//
// What is shared: regular files directly in the folder whose names pass the strict name check.
// Subfolders, symlinks (they could point anywhere on the disk), hidden files (a leading dot, which
// includes our own partial folder) and names another peer could not store are skipped, with a log line.
// Files come in through the partial folder (partial-folder.ts) and adopt().
import { EventEmitter } from "node:events";
import { watch, type FSWatcher, type Stats } from "node:fs";
import { link, lstat, mkdir, readdir, rename, rm, statfs, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import {
  FOLDER_RESCAN_INTERVAL_MS,
  FOLDER_SETTLE_MS,
  MANIFEST_CACHE_ENTRIES,
} from "../constants.js";
import { PeerError, isDiskFull, isPeerError, notHeld } from "../errors.js";
import type { FileStore, FolderDelta, Manifest, SharedFile, VerifiedFile } from "./file-store.js";
import { HashCache } from "./hash-cache.js";
import { fileChanged, OpenFiles } from "./open-files.js";
import { fileNameProblem, uniqueFileName, validateFileName } from "./names.js";
import { PARTIAL_DIR_NAME, PartialFolder } from "./partial-folder.js";
import { checkContentId, hashFile, pieceCount, pieceLength } from "./pieces.js";

/** How to open a shared folder. */
export interface SharedFolderOptions {
  /** The folder to share; created if missing. */
  readonly folder: string;
  /** Where the hash cache lives (not inside the shared folder). */
  readonly dataDir: string;
  readonly logger: Logger;
  /** How long a file's size and mtime must stay still before it is (re)indexed. */
  readonly settleMs?: number;
  /** Full rescan interval, a safety net for missed watcher events. */
  readonly rescanIntervalMs?: number;
}

/** What the index knows about one file name. */
interface Indexed {
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly contentId: string;
  readonly pieceSize: number;
  readonly addedAt: Date;
}

/** A change seen on disk that has not settled yet. */
interface Pending {
  readonly size: number;
  readonly mtimeMs: number;
  readonly seenAt: number;
}

/**
 * The FileStore of a pserver: a folder scanned at open and watched while open. Emits "change"
 * (FolderDelta) whenever the set of held contents or their names change.
 */
export class SharedFolder extends EventEmitter implements FileStore {
  /** Absolute path of the shared folder. */
  readonly folder: string;
  /** Where files are staged before adopt() (inside the folder, hidden). */
  readonly partialDir: PartialFolder;
  /** Counters that tell what the store had to do (tests prove the hash cache with them). */
  readonly stats = { filesHashed: 0, bytesHashed: 0, reconciles: 0 };

  readonly #logger: Logger;
  readonly #cache: HashCache;
  readonly #settleMs: number;
  readonly #rescanIntervalMs: number;
  #byName = new Map<string, Indexed>();
  #byContent = new Map<string, Indexed>();
  #pending = new Map<string, Pending>();
  #manifests = new Map<string, Manifest>();
  readonly #openFiles = new OpenFiles();
  #warnedNames = new Set<string>();
  #lock: Promise<unknown> = Promise.resolve();
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #reconcileQueued = false;
  #closed = false;

  private constructor(opts: SharedFolderOptions, cache: HashCache, partialDir: PartialFolder) {
    super();
    this.folder = opts.folder;
    this.partialDir = partialDir;
    this.#logger = opts.logger;
    this.#cache = cache;
    this.#settleMs = opts.settleMs ?? FOLDER_SETTLE_MS;
    this.#rescanIntervalMs = opts.rescanIntervalMs ?? FOLDER_RESCAN_INTERVAL_MS;
  }

  /**
   * Opens a shared folder: sweeps what an earlier run left unfinished in its partial folder, loads the
   * hash cache, scans (hashing only new or changed files), starts watching.
   */
  static async open(opts: SharedFolderOptions): Promise<SharedFolder> {
    await mkdir(opts.folder, { recursive: true });
    const partialDir = await PartialFolder.open(join(opts.folder, PARTIAL_DIR_NAME), opts.logger);
    await mkdir(opts.dataDir, { recursive: true });
    const store = new SharedFolder(opts, await HashCache.load(opts.dataDir, opts.logger), partialDir);
    // Files that are still being written when we start are picked up by the settle loop, like any change.
    await store.#exclusive(() => store.#reconcile(true));
    await store.#cache.pruneManifests().catch((err) => opts.logger.warn({ err }, "could not prune stored manifests"));
    store.#startWatching();
    return store;
  }

  /** All held files (one per content id), newest first. */
  list(): SharedFile[] {
    return [...this.#byContent.values()].sort((a, b) => b.addedAt.getTime() - a.addedAt.getTime() || a.name.localeCompare(b.name)).map(toShared);
  }

  /** The held file with this content id, if any. */
  get(contentId: string): SharedFile | undefined {
    const entry = this.#byContent.get(contentId);
    return entry && toShared(entry);
  }

  /** The manifest of a held file; piece hashes come from the data dir, rehashing only if they are missing. */
  async manifest(contentId: string): Promise<Manifest | undefined> {
    const entry = this.#byContent.get(contentId);
    if (!entry) return undefined;
    const cached = this.#manifests.get(contentId);
    if (cached && cached.size === entry.size && cached.pieceSize === entry.pieceSize) {
      // Refresh LRU order and the name (a rename keeps the hashes).
      this.#manifests.delete(contentId);
      const m = cached.name === entry.name ? cached : { ...cached, name: entry.name };
      this.#manifests.set(contentId, m);
      return m;
    }
    const count = pieceCount(entry.size, entry.pieceSize);
    let hashes = await this.#cache.getPieceHashes(contentId, entry.pieceSize, count);
    if (!hashes) {
      const path = join(this.folder, entry.name);
      const h = await hashFile(path, entry.size).catch(() => undefined);
      this.stats.filesHashed++;
      this.stats.bytesHashed += entry.size;
      if (!h || h.contentId !== contentId) {
        // The bytes on disk are no longer what we indexed: reindex, and do not describe it meanwhile.
        this.#scheduleReconcile(0);
        return undefined;
      }
      hashes = h.pieceHashes;
      await this.#cache.putPieceHashes(contentId, entry.pieceSize, hashes);
    }
    const m: Manifest = { contentId, name: entry.name, size: entry.size, pieceSize: entry.pieceSize, pieceHashes: hashes };
    this.#manifests.set(contentId, m);
    while (this.#manifests.size > MANIFEST_CACHE_ENTRIES) this.#manifests.delete(this.#manifests.keys().next().value!);
    return m;
  }

  /**
   * Reads one whole piece, into `into` when given; FILE_NOT_HELD if the content is not indexed,
   * FILE_CHANGED if its file is gone or changed on disk since it was indexed.
   */
  async readPiece(contentId: string, pieceIndex: number, into?: Uint8Array): Promise<Uint8Array> {
    const entry = this.#byContent.get(contentId);
    if (!entry) throw notHeld();
    const count = pieceCount(entry.size, entry.pieceSize);
    if (!Number.isInteger(pieceIndex) || pieceIndex < 0 || pieceIndex >= count) {
      throw new PeerError("BAD_PIECE_REQUEST", `Piece ${pieceIndex} is past the end of the file (it has ${count} pieces).`);
    }
    const length = pieceLength(entry.size, entry.pieceSize, pieceIndex);
    const key = `${contentId}\0${entry.name}\0${entry.size}\0${entry.mtimeMs}`;
    const unchanged = (st: Stats) => st.size === entry.size && st.mtimeMs === entry.mtimeMs;
    try {
      return await this.#openFiles.use(key, contentId, join(this.folder, entry.name), unchanged, async (fh) => {
        const buf = into && into.byteLength >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await fh.read(buf, done, length - done, pieceIndex * entry.pieceSize + done);
          if (bytesRead === 0) throw fileChanged("short read");
          done += bytesRead;
        }
        return buf;
      });
    } catch (err) {
      if (!isPeerError(err, "FILE_CHANGED") && (err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      this.#openFiles.forget(contentId);
      this.#scheduleReconcile(0);
      throw new PeerError("FILE_CHANGED", "The file changed on disk since it was indexed; it is being reindexed.");
    }
  }

  /** Deletes every copy of a content from the folder. */
  async remove(contentId: string): Promise<void> {
    checkContentId(contentId);
    await this.#exclusive(async () => {
      const names = [...this.#byName.values()].filter((e) => e.contentId === contentId).map((e) => e.name);
      if (names.length === 0) throw notHeld();
      const before = this.#contentNames();
      for (const name of names) {
        await rm(join(this.folder, name), { force: true });
        this.#byName.delete(name);
        this.#pending.delete(name);
      }
      this.#manifests.delete(contentId);
      this.#commit(before);
    });
  }

  /**
   * Moves a verified file of the partial folder into the folder under a validated, unique name (never
   * over another file) and indexes it. When the content is already held, the staged file is dropped and
   * the held file returned: the same content is never stored twice.
   */
  async adopt(file: VerifiedFile): Promise<SharedFile> {
    validateFileName(file.name);
    // Only from our partial folder: a rename from elsewhere could cross filesystems (not atomic) or take a file that is not ours.
    if (!this.partialDir.holds(file.tempPath)) throw new Error(`adopt takes files of the partial folder only, not ${file.tempPath}`);
    const m = file.manifest;
    return this.#exclusive(async () => {
      const held = this.#byContent.get(m.contentId);
      if (held) {
        await rm(file.tempPath, { force: true });
        return toShared(held);
      }
      const tempStat = await lstat(file.tempPath);
      if (tempStat.size !== m.size) throw new PeerError("BAD_MANIFEST", "The verified file's size does not match its manifest.");
      const name = await this.#placeAtomically(file.tempPath, file.name);
      const st = await lstat(join(this.folder, name));
      const entry: Indexed = {
        name,
        size: st.size,
        mtimeMs: st.mtimeMs,
        ino: st.ino,
        contentId: m.contentId,
        pieceSize: m.pieceSize,
        addedAt: new Date(),
      };
      try {
        await this.#cache.putPieceHashes(m.contentId, m.pieceSize, m.pieceHashes);
      } catch (err) {
        // Not fatal: manifest() rehashes when the stored hashes are missing.
        this.#logger.warn({ err }, "could not store piece hashes");
      }
      const before = this.#contentNames();
      this.#byName.set(name, entry);
      this.#pending.delete(name);
      this.#remember(entry);
      this.#commit(before);
      return toShared(entry);
    });
  }

  /** Bytes free on the shared folder's filesystem. */
  async freeBytes(): Promise<number> {
    const s = await statfs(this.folder);
    return Number(s.bavail) * Number(s.bsize);
  }

  /** Rescans the folder now (tests and "refresh" buttons; the watcher normally does this). */
  async rescan(): Promise<void> {
    await this.#exclusive(() => this.#reconcile(false));
  }

  /** Stops watching, waits for a running scan and saves the hash cache. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    clearTimeout(this.#debounce);
    clearInterval(this.#rescanTimer);
    await this.#lock.catch(() => undefined);
    this.#openFiles.closeAll();
    await this.#cache.save();
  }

  // ---- placing files ----

  /**
   * Puts `tempPath` into the folder under `wanted` or the first free "wanted (n).ext". link() fails
   * when the name exists, so a file created by someone else meanwhile is never overwritten; where hard
   * links are unsupported, rename() after an existence check is the fallback.
   */
  async #placeAtomically(tempPath: string, wanted: string): Promise<string> {
    const tried = new Set<string>();
    for (let attempt = 0; attempt < 100; attempt++) {
      const name = uniqueFileName(wanted, (c) => tried.has(c) || this.#byName.has(c) || this.#pending.has(c));
      tried.add(name);
      const dest = join(this.folder, name);
      try {
        await link(tempPath, dest);
        await unlink(tempPath);
        return name;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST") continue;
        if (isDiskFull(err)) throw new PeerError("DISK_FULL", "The disk is full; the file could not be added to the shared folder.", { cause: err });
        if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EXDEV" && code !== "ENOSYS") throw err;
        if (await exists(dest)) continue;
        await rename(tempPath, dest);
        return name;
      }
    }
    throw new PeerError("BAD_NAME", `No free name like ${JSON.stringify(wanted)} was found in the shared folder.`);
  }

  // ---- scanning and watching ----

  #startWatching(): void {
    try {
      this.#watcher = watch(this.folder, { persistent: false }, (_event, filename) => {
        // Our own partial folder and other hidden entries never count.
        if (typeof filename === "string" && filename.startsWith(".")) return;
        this.#scheduleReconcile(this.#settleMs);
      });
      this.#watcher.on("error", (err) => {
        this.#logger.warn({ err }, "watching the shared folder failed; falling back to periodic rescans");
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      this.#logger.warn({ err }, "cannot watch the shared folder; falling back to periodic rescans");
    }
    this.#rescanTimer = setInterval(() => this.#scheduleReconcile(0), this.#rescanIntervalMs);
    this.#rescanTimer.unref();
  }

  /** Debounced reconcile: bursts of events (a copy writes many times) become one pass. */
  #scheduleReconcile(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      if (this.#reconcileQueued) return;
      this.#reconcileQueued = true;
      void this.#exclusive(async () => {
        this.#reconcileQueued = false;
        if (!this.#closed) await this.#reconcile(false);
      }).catch((err) => this.#logger.error({ err }, "rescanning the shared folder failed"));
    }, delayMs);
    this.#debounce.unref();
  }

  /**
   * Brings the index in line with the disk. A new or changed file is indexed once its size and mtime have
   * held still for settleMs (at startup, a file untouched for that long counts as still at once). A changed
   * file stops being offered at once, before it is rehashed. Must run under #exclusive.
   */
  async #reconcile(initial: boolean): Promise<void> {
    this.stats.reconciles++;
    const before = this.#contentNames();
    let dirents;
    try {
      dirents = await readdir(this.folder, { withFileTypes: true });
    } catch (err) {
      this.#logger.error({ err }, "cannot read the shared folder");
      return;
    }
    const now = Date.now();
    const seen = new Set<string>();
    const ready: Array<{ name: string; st: Stats }> = [];
    let unsettled = false;
    for (const d of dirents) {
      if (!d.isFile() || d.name.startsWith(".")) continue;
      const problem = fileNameProblem(d.name);
      if (problem) {
        if (!this.#warnedNames.has(d.name)) this.#logger.warn({ name: d.name, problem }, "file not shared");
        this.#warnedNames.add(d.name);
        continue;
      }
      let st: Stats;
      try {
        st = await lstat(join(this.folder, d.name));
      } catch {
        continue; // gone between readdir and stat
      }
      if (!st.isFile()) continue;
      seen.add(d.name);
      const known = this.#byName.get(d.name);
      if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) continue;
      if (known) this.#byName.delete(d.name); // changed: stop offering the old content now
      const p = this.#pending.get(d.name);
      const same = p !== undefined && p.size === st.size && p.mtimeMs === st.mtimeMs;
      const still = same ? now - p.seenAt >= this.#settleMs || now - st.mtimeMs >= this.#settleMs : !p && now - st.mtimeMs >= this.#settleMs;
      if (still || (initial && !p && this.#cache.lookup(d.name, st.size, st.mtimeMs))) {
        ready.push({ name: d.name, st });
      } else {
        if (!same) this.#pending.set(d.name, { size: st.size, mtimeMs: st.mtimeMs, seenAt: now });
        unsettled = true;
      }
    }
    // Names that disappeared: remember them by inode so a rename reuses the hashes.
    const gone = new Map<string, Indexed>();
    for (const [name, entry] of this.#byName) {
      if (!seen.has(name)) {
        this.#byName.delete(name);
        gone.set(`${entry.ino}:${entry.size}:${entry.mtimeMs}`, entry);
      }
    }
    for (const name of this.#pending.keys()) if (!seen.has(name)) this.#pending.delete(name);

    for (const { name, st } of ready) {
      if (this.#closed) break;
      const entry = await this.#describe(name, st, gone);
      if (entry === "changed") {
        this.#pending.set(name, { size: -1, mtimeMs: -1, seenAt: Date.now() });
        unsettled = true;
        continue;
      }
      this.#pending.delete(name);
      if (entry) {
        this.#byName.set(name, entry);
        this.#remember(entry);
      }
    }
    this.#cache.retain(new Set([...this.#byName.keys()]));
    this.#commit(before);
    if (unsettled) this.#scheduleReconcile(this.#settleMs);
  }

  /** Describes a settled file: from the cache, from a renamed entry, or by hashing it. */
  async #describe(name: string, st: Stats, gone: Map<string, Indexed>): Promise<Indexed | "changed" | undefined> {
    const cached = this.#cache.lookup(name, st.size, st.mtimeMs) ?? this.#cache.lookupByInode(st.ino, st.size, st.mtimeMs);
    if (cached) {
      return { name, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, contentId: cached.contentId, pieceSize: cached.pieceSize, addedAt: new Date(cached.addedAt) };
    }
    const renamed = gone.get(`${st.ino}:${st.size}:${st.mtimeMs}`);
    if (renamed && st.ino !== 0) return { ...renamed, name };
    const path = join(this.folder, name);
    let hashes;
    try {
      this.stats.filesHashed++;
      this.stats.bytesHashed += st.size;
      // Each byte once: the piece hashes, then the content id over the canonical manifest.
      hashes = await hashFile(path, st.size);
      const after = await lstat(path);
      if (after.size !== st.size || after.mtimeMs !== st.mtimeMs) return "changed";
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      if ((err as NodeJS.ErrnoException).code === "EACCES") {
        this.#logger.warn({ name }, "file not shared: not readable");
        return undefined;
      }
      return "changed";
    }
    const { pieceSize } = hashes;
    await this.#cache.putPieceHashes(hashes.contentId, pieceSize, hashes.pieceHashes).catch((err) =>
      this.#logger.warn({ err }, "could not store piece hashes"),
    );
    this.#logger.debug({ name, contentId: hashes.contentId }, "indexed");
    return { name, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, contentId: hashes.contentId, pieceSize, addedAt: new Date() };
  }

  /** Records an entry in the hash cache. */
  #remember(e: Indexed): void {
    this.#cache.put(e.name, { size: e.size, mtimeMs: e.mtimeMs, ino: e.ino, contentId: e.contentId, pieceSize: e.pieceSize, addedAt: e.addedAt.toISOString() });
  }

  /** content id -> name of what is offered now. */
  #contentNames(): Map<string, string> {
    return new Map([...this.#byContent].map(([id, e]) => [id, e.name]));
  }

  /** Rebuilds the content index (the oldest name of a content is the one offered), emits the delta, saves the cache. */
  #commit(before: Map<string, string>): void {
    const byContent = new Map<string, Indexed>();
    for (const e of this.#byName.values()) {
      const cur = byContent.get(e.contentId);
      if (!cur || e.addedAt < cur.addedAt || (e.addedAt.getTime() === cur.addedAt.getTime() && e.name < cur.name)) byContent.set(e.contentId, e);
    }
    this.#byContent = byContent;
    const added: SharedFile[] = [];
    for (const [id, e] of byContent) if (before.get(id) !== e.name) added.push(toShared(e));
    const removed = [...before.keys()].filter((id) => !byContent.has(id));
    for (const id of removed) {
      this.#manifests.delete(id);
      this.#openFiles.forget(id);
    }
    void this.#cache.save();
    if (added.length > 0 || removed.length > 0) {
      const delta: FolderDelta = { added, removed };
      this.emit("change", delta);
    }
  }

  /** Runs index mutations one at a time (scans, adopt, remove never interleave). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }
}

function toShared(e: Indexed): SharedFile {
  return { contentId: e.contentId, name: e.name, size: e.size, pieceSize: e.pieceSize, addedAt: e.addedAt };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
