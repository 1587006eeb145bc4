// Test files with known content ids, byte-for-byte comparison, and watching a shared folder for anything
// unverified appearing in it.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { pieceSizeFor } from "@p2p/directory-api";
import { FOLDER_GUARD_INTERVAL_MS } from "../constants.js";
import { manifestContentId } from "./manifest.js";

/** A file chaos created: where, how big, and its content id. */
export interface KnownFile {
  readonly name: string;
  readonly size: number;
  readonly contentId: string;
}

const WRITE_CHUNK_BYTES = 4 * 1024 * 1024;

/** Writes `size` random bytes to `folder/name` and returns its content id. */
export async function writeRandomFile(folder: string, name: string, size: number): Promise<KnownFile> {
  const pieceSize = pieceSizeFor(size);
  const hashes: Buffer[] = [];
  const fh = await open(path.join(folder, name), "w");
  try {
    // Chunks of whole pieces (WRITE_CHUNK_BYTES is a multiple of every piece size up to 4 MiB), hashed piece by piece.
    const chunkBytes = Math.max(WRITE_CHUNK_BYTES, pieceSize);
    for (let done = 0; done < size; ) {
      const chunk = randomBytes(Math.min(chunkBytes, size - done));
      for (let at = 0; at < chunk.length; at += pieceSize) hashes.push(createHash("sha256").update(chunk.subarray(at, at + pieceSize)).digest());
      await fh.write(chunk, 0, chunk.length, done);
      done += chunk.length;
    }
  } finally {
    await fh.close();
  }
  return { name, size, contentId: manifestContentId(size, pieceSize, hashes) };
}

/** The content id of a file's bytes, computed as a pserver would. */
export async function contentIdOfFile(file: string): Promise<string> {
  const size = (await stat(file)).size;
  const pieceSize = pieceSizeFor(size);
  const hashes: Buffer[] = [];
  let piece = createHash("sha256");
  let inPiece = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let at = 0; at < chunk.length; ) {
      const take = Math.min(pieceSize - inPiece, chunk.length - at);
      piece.update(chunk.subarray(at, at + take));
      inPiece += take;
      at += take;
      if (inPiece === pieceSize) {
        hashes.push(piece.digest());
        piece = createHash("sha256");
        inPiece = 0;
      }
    }
  }
  if (inPiece > 0) hashes.push(piece.digest());
  return manifestContentId(size, pieceSize, hashes);
}

/**
 * Checks that `folder/name` holds exactly the bytes of `expected` (size, then content id); returns the
 * number of bytes compared, throws with what differs.
 */
export async function expectSameBytes(folder: string, name: string, expected: KnownFile): Promise<number> {
  const file = path.join(folder, name);
  const st = await stat(file).catch(() => undefined);
  if (!st) throw new Error(`${name} is not in ${folder}`);
  if (st.size !== expected.size) throw new Error(`${name} has ${st.size} bytes, expected ${expected.size}`);
  const digest = await contentIdOfFile(file);
  if (digest !== expected.contentId) throw new Error(`${name} has the right size but different bytes (content id ${digest.slice(0, 19)}…, expected ${expected.contentId.slice(0, 19)}…)`);
  return st.size;
}

/** Name, size and mtime of every entry under a folder (hidden ones too), as one comparable text. */
export async function folderSnapshot(folder: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
    if (depth > 4) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      const st = await stat(full).catch(() => undefined);
      if (!st) continue;
      lines.push(`${prefix}${entry.name}${entry.isDirectory() ? "/" : ` ${st.size} ${st.mtimeMs}`}`);
      if (entry.isDirectory()) await walk(full, `${prefix}${entry.name}/`, depth + 1);
    }
  };
  await walk(folder, "", 0);
  return lines.join("\n");
}

/** The pserver's own hidden folder of partial files inside a shared folder. */
export const PARTIAL_DIR_NAME = ".p2p-partial";

/**
 * Watches a shared folder while a transfer runs: every visible entry must be one of the `allowed` files
 * and, from the first moment it is seen, have its full size (files enter the folder by an atomic rename
 * after verification). Anything else is a violation: a partial, a temp file, a wrong size.
 * stop() also checks the bytes of every allowed file present.
 */
export class FolderGuard {
  readonly #folder: string;
  readonly #allowed: Map<string, KnownFile>;
  readonly #violations: string[] = [];
  readonly #seen = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #checks = 0;

  constructor(folder: string, allowed: readonly KnownFile[]) {
    this.#folder = folder;
    this.#allowed = new Map(allowed.map((f) => [f.name, f]));
  }

  /** Starts polling. */
  start(): this {
    this.#timer = setInterval(() => void this.#check(), FOLDER_GUARD_INTERVAL_MS);
    this.#timer.unref();
    return this;
  }

  /** Allows one more file (e.g. a download's final name, once known). */
  allow(file: KnownFile): void {
    this.#allowed.set(file.name, file);
  }

  /** Stops polling, checks once more (bytes included) and returns every violation seen. */
  async stop(): Promise<{ violations: string[]; checks: number }> {
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 5));
    await this.#check();
    for (const name of this.#seen) {
      const expected = this.#allowed.get(name);
      if (!expected) continue;
      try {
        await expectSameBytes(this.#folder, name, expected);
      } catch (error) {
        if ((await stat(path.join(this.#folder, name)).catch(() => undefined)) !== undefined) {
          this.#violations.push((error as Error).message);
        }
      }
    }
    return { violations: [...new Set(this.#violations)], checks: this.#checks };
  }

  async #check(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      this.#checks++;
      const entries = await readdir(this.#folder).catch(() => [] as string[]);
      for (const name of entries) {
        if (name === PARTIAL_DIR_NAME) continue;
        const expected = this.#allowed.get(name);
        if (!expected) {
          this.#violations.push(`unexpected entry "${name}" appeared in the shared folder`);
          continue;
        }
        if (!this.#seen.has(name)) {
          const st = await stat(path.join(this.#folder, name)).catch(() => undefined);
          if (st && st.size !== expected.size) {
            this.#violations.push(`"${name}" appeared with ${st.size} of ${expected.size} bytes`);
          }
          this.#seen.add(name);
        }
      }
    } finally {
      this.#busy = false;
    }
  }
}
