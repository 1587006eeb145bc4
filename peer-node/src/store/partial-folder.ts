// The store's partial folder: files on their way into the shared folder (downloads, imports from a
// browser, pushes from other peers) and the small state files that let them resume. It is hidden
// inside the shared folder (a leading dot: never shared, never watched), so a finished file enters the
// folder by a link or rename on the same filesystem, atomically; that step is FileStore.adopt, which
// takes files from here only.
//
// Everything that writes here goes through this class: a staged file is created sparse at its final
// size, state is replaced atomically (write a temporary, rename it over), and what an earlier run left
// that can never be used is swept with a log line: temporaries and scratch files at open, by this
// class; a feature's own leftovers (an import gone stale, say) by that feature, through sweep().
import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, rename, rm, writeFile, type FileHandle } from "node:fs/promises";
import { dirname, isAbsolute, join, relative } from "node:path";
import type { Logger } from "pino";

/** Name of the partial folder inside the shared folder. */
export const PARTIAL_DIR_NAME = ".p2p-partial";

/** Suffix of the temporary file an atomic replace writes first; one left behind is a write cut short. */
const TEMPORARY_SUFFIX = ".tmp";

/**
 * A scratch file: received in one go, never resumed (a push). `<kind>-<uuid>.part`, at the top of the
 * folder; every one found at open was cut short by a stop or a crash.
 */
const SCRATCH_NAME = /^[a-z]+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.part$/;

/** A new scratch file, open for writing. */
export interface ScratchFile {
  /** Its name in the partial folder (for remove). */
  readonly name: string;
  /** Its absolute path (for FileStore.adopt). */
  readonly path: string;
  readonly handle: FileHandle;
}

/** The partial folder of a store. Names are relative to it and are always of our own making, never from a request. */
export class PartialFolder {
  /** Absolute path of the folder. */
  readonly path: string;
  readonly #logger: Logger;

  private constructor(path: string, logger: Logger) {
    this.path = path;
    this.#logger = logger;
  }

  /** Opens (creating it if missing) the partial folder at `path`, and sweeps what an earlier run left unfinished. */
  static async open(path: string, logger: Logger): Promise<PartialFolder> {
    await mkdir(path, { recursive: true });
    const folder = new PartialFolder(path, logger);
    await folder.#sweepLeftovers();
    return folder;
  }

  /** Absolute path of staged file `name` (a name, or subfolder/name). */
  pathOf(name: string): string {
    const path = join(this.path, name);
    const inside = relative(this.path, path);
    if (name === "" || isAbsolute(name) || inside === "" || inside.startsWith("..") || isAbsolute(inside)) {
      throw new Error(`not a staged file name: ${JSON.stringify(name)}`);
    }
    return path;
  }

  /** Whether `path` is a file inside this folder (FileStore.adopt takes only those). */
  holds(path: string): boolean {
    const inside = relative(this.path, path);
    return inside !== "" && !inside.startsWith("..") && !isAbsolute(inside);
  }

  /**
   * Creates staged file `name` of `sizeBytes` (sparse: blocks are allocated as bytes land), replacing one
   * of that name; resolves with it open for reading and writing.
   */
  async create(name: string, sizeBytes: number): Promise<FileHandle> {
    const path = this.pathOf(name);
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, "w+");
    try {
      await handle.truncate(sizeBytes);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await rm(path, { force: true });
      throw err;
    }
    return handle;
  }

  /** Creates a new, empty scratch file of `kind` ("push"): the next open of the store sweeps it if it is still here. */
  async createScratch(kind: string): Promise<ScratchFile> {
    const name = `${kind}-${randomUUID()}.part`;
    if (!SCRATCH_NAME.test(name)) throw new Error(`not a scratch file kind: ${JSON.stringify(kind)}`);
    const path = this.pathOf(name);
    return { name, path, handle: await open(path, "wx") };
  }

  /** Replaces staged file `name` with `data` atomically: a crash leaves the old content or the new, never a mix. */
  async writeAtomically(name: string, data: string | Uint8Array): Promise<void> {
    const path = this.pathOf(name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}${TEMPORARY_SUFFIX}`, data);
    await rename(`${path}${TEMPORARY_SUFFIX}`, path);
  }

  /** Names of the staged files in the folder, or in its subfolder `sub` (names within it); none when missing. */
  async list(sub?: string): Promise<string[]> {
    return readdir(sub ? this.pathOf(sub) : this.path).catch(() => [] as string[]);
  }

  /** Removes staged files (those that exist), with the temporary of an atomic replace cut short. */
  async remove(...names: string[]): Promise<void> {
    for (const name of names) {
      await rm(this.pathOf(name), { force: true });
      await rm(`${this.pathOf(name)}${TEMPORARY_SUFFIX}`, { force: true });
    }
  }

  /** Removes staged files an earlier run left that can never be used, with one log line saying how many and why. */
  async sweep(names: readonly string[], why: string): Promise<void> {
    if (names.length === 0) return;
    await this.remove(...names);
    this.#logger.info({ count: names.length, why, names: names.slice(0, 10) }, "swept stale partial files");
  }

  /** At open: temporaries of atomic replaces cut short, and scratch files of transfers cut short. */
  async #sweepLeftovers(): Promise<void> {
    const temporaries: string[] = [];
    const scratch: string[] = [];
    try {
      // The folder and its subfolders (imports keep theirs in one).
      for (const entry of await readdir(this.path, { withFileTypes: true })) {
        if (entry.isDirectory()) {
          for (const name of await this.list(entry.name)) if (name.endsWith(TEMPORARY_SUFFIX)) temporaries.push(`${entry.name}/${name}`);
        } else if (entry.name.endsWith(TEMPORARY_SUFFIX)) {
          temporaries.push(entry.name);
        } else if (SCRATCH_NAME.test(entry.name)) {
          scratch.push(entry.name);
        }
      }
      await this.sweep(temporaries, "atomic writes cut short by a stop or crash");
      await this.sweep(scratch, "transfers cut short by a stop or crash; they cannot be resumed");
    } catch (err) {
      this.#logger.warn({ err }, "could not sweep stale partial files");
    }
  }
}
