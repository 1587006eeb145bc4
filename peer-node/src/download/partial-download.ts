// The on-disk state of one unfinished download, in the store's partial folder (partial-folder.ts; same
// filesystem as the shared folder, so the final move is an atomic rename):
//   <contentId>.part           the file's bytes, written piece by piece at their offsets
//   <contentId>.manifest.json  the manifest being fetched (written once) and the wanted name
//   <contentId>.bits           one bit per verified piece, replaced atomically
// A piece's bit is saved only after its bytes were datasync'd, so after a crash or kill every saved bit
// names bytes that are on disk and verified: a restart resumes without rehashing the partial file. The
// saved manifest is checked against the content id again when it is loaded.
import { open, readFile, rename, type FileHandle } from "node:fs/promises";
import { hasBit, newBitfield, setBit } from "../store/bitfield.js";
import type { Manifest } from "../store/file-store.js";
import type { PartialFolder } from "../store/partial-folder.js";
import { checkManifest, contentIdOfManifest, isContentId, isLegacyContentId, pieceCount, pieceLength } from "../store/pieces.js";

interface ManifestFileV1 {
  version: 1;
  name: string;
  contentId: string;
  size: number;
  pieceSize: number;
  /** Concatenated raw piece hashes, base64. */
  pieceHashes: string;
}

/** The partial file and resume state of one download. */
export class PartialDownload {
  readonly manifest: Manifest;
  /** The name the file gets in the shared folder (already sanitized). */
  readonly name: string;
  readonly partPath: string;
  readonly #dir: PartialFolder;
  readonly #fh: FileHandle;
  /** Bits of pieces verified and written (not necessarily saved yet). */
  readonly verified: Uint8Array;
  #saving: Promise<void> | undefined;
  #saveAgain = false;

  private constructor(dir: PartialFolder, manifest: Manifest, name: string, fh: FileHandle, verified: Uint8Array) {
    this.#dir = dir;
    this.manifest = manifest;
    this.name = name;
    this.partPath = dir.pathOf(`${manifest.contentId}.part`);
    this.#fh = fh;
    this.verified = verified;
  }

  /** Content ids with saved download state in a partial folder. */
  static async list(dir: PartialFolder): Promise<string[]> {
    const ids: string[] = [];
    for (const entry of await dir.list()) {
      const id = entry.replace(/\.manifest\.json$/, "");
      if (id !== entry && isContentId(id)) ids.push(id);
    }
    return ids;
  }

  /**
   * Moves the state of downloads an older version started under a whole-file content id to the id of
   * the manifest they saved: the new id names exactly that manifest (its size, piece size and piece
   * hashes), and every piece marked verified was checked against those hashes, so it is a piece of the
   * file the new id names, however the old manifest came. The download then resumes under the new id,
   * from the holders that publish it (the file's holders do once they run this version). State whose
   * manifest names no valid id (a piece size other than pieceSizeFor's, a hash count that does not
   * match), or whose new id already has state of its own, is removed. Returns what was moved and what
   * was removed, by old id (the caller logs them). Safe to run again after a crash halfway.
   */
  static async migrateLegacy(dir: PartialFolder): Promise<{ moved: Array<{ from: string; to: string }>; removed: string[] }> {
    const ids = new Set<string>();
    for (const entry of await dir.list()) {
      const id = entry.replace(/\.(manifest\.json|part|bits)$/, "");
      if (id !== entry && isLegacyContentId(id)) ids.add(id);
    }
    const moved: Array<{ from: string; to: string }> = [];
    const removed: string[] = [];
    for (const id of ids) {
      const to = await legacyTarget(dir, id);
      if (to === undefined) {
        await PartialDownload.remove(dir, id);
        removed.push(id);
        continue;
      }
      // The bytes and bits first, the new manifest next, the old manifest last: a crash in between
      // leaves the old manifest, and the next start moves what is left (or finds the new state).
      for (const suffix of [".part", ".bits"]) {
        await rename(dir.pathOf(`${id}${suffix}`), dir.pathOf(`${to.manifest.contentId}${suffix}`)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT") throw err;
        });
      }
      await writeManifest(dir, to.manifest, to.name);
      await PartialDownload.remove(dir, id);
      moved.push({ from: id, to: to.manifest.contentId });
    }
    return { moved, removed };
  }

  /** Removes a download's files (any that exist). */
  static async remove(dir: PartialFolder, contentId: string): Promise<void> {
    await dir.remove(...[".part", ".manifest.json", ".bits"].map((suffix) => `${contentId}${suffix}`));
  }

  /** Loads saved state; undefined when there is none or it is unusable (then its files are removed). */
  static async load(dir: PartialFolder, contentId: string): Promise<PartialDownload | undefined> {
    let manifest: Manifest;
    let name: string;
    try {
      const saved = await readManifestFile(dir, contentId);
      manifest = checkManifest(saved, contentId);
      name = saved.name;
    } catch {
      await PartialDownload.remove(dir, contentId);
      return undefined;
    }
    const count = pieceCount(manifest.size, manifest.pieceSize);
    const verified = newBitfield(count);
    try {
      const bits = await readFile(dir.pathOf(`${contentId}.bits`));
      if (bits.length === verified.length) verified.set(bits);
    } catch {
      // No bits saved yet: nothing verified.
    }
    let fh: FileHandle;
    try {
      fh = await open(dir.pathOf(`${contentId}.part`), "r+");
      const st = await fh.stat();
      if (st.size !== manifest.size) {
        // Not the file the bits describe (truncated by hand?): start over rather than trust it.
        verified.fill(0);
        await fh.truncate(manifest.size);
      }
    } catch {
      verified.fill(0);
      fh = await dir.create(`${contentId}.part`, manifest.size);
    }
    return new PartialDownload(dir, manifest, name, fh, verified);
  }

  /** Starts a download's state from scratch (replacing any old state of the same content). */
  static async create(dir: PartialFolder, manifest: Manifest, name: string): Promise<PartialDownload> {
    await PartialDownload.remove(dir, manifest.contentId);
    // Sparse: blocks are allocated as pieces land; free space was checked before.
    const fh = await dir.create(`${manifest.contentId}.part`, manifest.size);
    try {
      await writeManifest(dir, manifest, name);
    } catch (err) {
      await fh.close();
      await PartialDownload.remove(dir, manifest.contentId);
      throw err;
    }
    const count = pieceCount(manifest.size, manifest.pieceSize);
    return new PartialDownload(dir, manifest, name, fh, newBitfield(count));
  }

  /** Number of pieces. */
  get count(): number {
    return pieceCount(this.manifest.size, this.manifest.pieceSize);
  }

  /** Whether piece `i` is verified. */
  has(i: number): boolean {
    return hasBit(this.verified, i);
  }

  /** Bytes of all verified pieces. */
  verifiedBytes(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.has(i)) n += pieceLength(this.manifest.size, this.manifest.pieceSize, i);
    return n;
  }

  /** Sets piece `i`'s bit (in memory; see save) once its verified bytes are written. */
  markVerified(i: number): void {
    setBit(this.verified, i);
  }

  /**
   * Saves the bits durably: snapshot, datasync the data (so every saved bit's bytes are on disk), then
   * replace the bits file atomically. Calls during a save coalesce into one more save.
   */
  save(): Promise<void> {
    if (this.#saving) {
      this.#saveAgain = true;
      return this.#saving;
    }
    this.#saving = (async () => {
      do {
        this.#saveAgain = false;
        const snapshot = Buffer.from(this.verified);
        await this.#fh.datasync();
        await this.#dir.writeAtomically(`${this.manifest.contentId}.bits`, snapshot);
      } while (this.#saveAgain);
    })().finally(() => {
      this.#saving = undefined;
    });
    return this.#saving;
  }

  /** Makes the data durable and closes the file (before the move into the shared folder). */
  async finish(): Promise<void> {
    await this.#saving?.catch(() => undefined);
    await this.#fh.datasync();
    await this.#fh.close();
  }

  /** Closes the file, keeping everything for a later resume. */
  async close(): Promise<void> {
    await this.#saving?.catch(() => undefined);
    await this.#fh.close().catch(() => undefined);
  }

  /** Closes the file and removes every trace of the download. */
  async discard(): Promise<void> {
    await this.close();
    await PartialDownload.remove(this.#dir, this.manifest.contentId);
  }
}

/** Writes (or atomically replaces) a download's manifest file. */
/**
 * The manifest an older version's download state `id` saved, under the new id it names, with the file's
 * name; undefined when it names no valid id or that id has state of its own.
 */
async function legacyTarget(dir: PartialFolder, id: string): Promise<{ manifest: Manifest; name: string } | undefined> {
  try {
    const saved = await readManifestFile(dir, id);
    const contentId = contentIdOfManifest(saved.size, saved.pieceSize, saved.pieceHashes);
    const manifest = checkManifest({ ...saved, contentId }, contentId);
    if ((await dir.list()).includes(`${contentId}.manifest.json`)) return undefined;
    return { manifest, name: saved.name };
  } catch {
    return undefined;
  }
}

/** The manifest file of download state `id` as saved, not checked against any id; throws when it is unreadable. */
async function readManifestFile(dir: PartialFolder, id: string): Promise<Manifest> {
  const raw = JSON.parse(await readFile(dir.pathOf(`${id}.manifest.json`), "utf8")) as ManifestFileV1;
  if (raw.version !== 1 || typeof raw.name !== "string") throw new Error("unknown manifest file");
  const all = Buffer.from(raw.pieceHashes, "base64");
  const pieceHashes: Buffer[] = [];
  for (let o = 0; o < all.length; o += 32) pieceHashes.push(all.subarray(o, o + 32));
  return { contentId: raw.contentId, name: raw.name, size: raw.size, pieceSize: raw.pieceSize, pieceHashes };
}

async function writeManifest(dir: PartialFolder, manifest: Manifest, name: string): Promise<void> {
  const body: ManifestFileV1 = {
    version: 1,
    name,
    contentId: manifest.contentId,
    size: manifest.size,
    pieceSize: manifest.pieceSize,
    pieceHashes: Buffer.concat(manifest.pieceHashes.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength))).toString("base64"),
  };
  await dir.writeAtomically(`${manifest.contentId}.manifest.json`, JSON.stringify(body));
}
