// Read-only file handles kept open between piece reads. Serving a piece used to open, fstat, read and
// close the file: four thread-pool round trips per piece, and the benchmark's seeder spent more time on
// them than on reading. A handle is re-checked (fstat) at most every RECHECK_MS and closed when idle.
import { open, type FileHandle } from "node:fs/promises";
import type { Stats } from "node:fs";
import { PeerError } from "../errors.js";

const MAX_OPEN = 16;
const RECHECK_MS = 1_000;
const IDLE_CLOSE_MS = 10_000;

interface Slot {
  readonly owner: string;
  readonly handle: Promise<FileHandle>;
  users: number;
  lastUseMs: number;
  checkedAtMs: number;
  dead: boolean;
}

/** The error for a cached file that no longer passes its check (changed or replaced on disk). */
export function fileChanged(path: string): PeerError {
  return new PeerError("FILE_CHANGED", `The file changed on disk since it was indexed (${path}).`);
}

/** A small cache of open file handles keyed by what the caller knows about the file. */
export class OpenFiles {
  readonly #slots = new Map<string, Slot>();
  #closed = false;

  /**
   * Runs `fn` with an open handle of `path`. `key` names the file's identity (it changes when the file
   * is reindexed), `owner` groups keys for forget(), and `check` must accept the handle's stat (rechecked
   * now and then); a failed check throws a FILE_CHANGED PeerError.
   */
  async use<T>(key: string, owner: string, path: string, check: (st: Stats) => boolean, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    // A read that outlives closeAll (a piece still being served while the pserver stops) gets a handle of
    // its own, closed after it: a cached one would stay open until the collector closed it (with a warning).
    if (this.#closed) return useOnce(path, check, fn);
    const now = Date.now();
    this.#sweep(now);
    let slot = this.#slots.get(key);
    if (!slot) {
      const handle = open(path, "r");
      handle.catch(() => undefined);
      slot = { owner, handle, users: 0, lastUseMs: now, checkedAtMs: 0, dead: false };
      this.#slots.set(key, slot);
    }
    slot.users++;
    slot.lastUseMs = now;
    try {
      let fh: FileHandle;
      try {
        fh = await slot.handle;
      } catch (err) {
        this.#kill(key, slot);
        throw err;
      }
      if (now - slot.checkedAtMs >= RECHECK_MS) {
        const st = await fh.stat();
        if (!check(st)) {
          this.#kill(key, slot);
          throw fileChanged(path);
        }
        slot.checkedAtMs = now;
      }
      return await fn(fh);
    } finally {
      slot.users--;
      if (slot.dead && slot.users === 0) void slot.handle.then((fh) => fh.close()).catch(() => undefined);
    }
  }

  /** Closes every handle of an owner (its file was removed or changed). */
  forget(owner: string): void {
    for (const [key, slot] of this.#slots) if (slot.owner === owner) this.#kill(key, slot);
  }

  /** Closes everything; later uses open and close a handle each. */
  closeAll(): void {
    this.#closed = true;
    for (const [key, slot] of this.#slots) this.#kill(key, slot);
  }

  #kill(key: string, slot: Slot): void {
    if (this.#slots.get(key) === slot) this.#slots.delete(key);
    if (slot.dead) return;
    slot.dead = true;
    if (slot.users === 0) void slot.handle.then((fh) => fh.close()).catch(() => undefined);
  }

  /** Closes idle handles, and the least recently used beyond MAX_OPEN. */
  #sweep(now: number): void {
    for (const [key, slot] of this.#slots) if (slot.users === 0 && now - slot.lastUseMs > IDLE_CLOSE_MS) this.#kill(key, slot);
    if (this.#slots.size < MAX_OPEN) return;
    const idle = [...this.#slots].filter(([, s]) => s.users === 0).sort((a, b) => a[1].lastUseMs - b[1].lastUseMs);
    for (const [key, slot] of idle.slice(0, this.#slots.size - MAX_OPEN + 1)) this.#kill(key, slot);
  }
}

async function useOnce<T>(path: string, check: (st: Stats) => boolean, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
  const fh = await open(path, "r");
  try {
    if (!check(await fh.stat())) throw fileChanged(path);
    return await fn(fh);
  } finally {
    await fh.close();
  }
}
