// Shared by the store, transfer and PeerService tests: real temp dirs, real files, bounded waits.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { Manifest } from "../../src/store/file-store.js";
import { contentIdOfManifest, pieceSizeFor, sha256 } from "../../src/store/pieces.js";

/** A silent logger unless TEST_LOG_LEVEL says otherwise. */
export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** A fresh temp dir and a function that removes it. */
export async function tempDir(prefix = "p2p-test-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes `size` random bytes to a file and returns them with their content id. */
export async function writeRandomFile(path: string, size: number): Promise<{ bytes: Buffer; contentId: string }> {
  const bytes = randomBytes(size);
  await writeFile(path, bytes);
  return { bytes, contentId: contentIdOf(bytes) };
}

/** The manifest of some bytes, split at pieceSizeFor(size), as the pserver would serve it. */
export function manifestOf(data: Uint8Array, name = "file.bin"): Manifest {
  const pieceSize = pieceSizeFor(data.length);
  const pieceHashes: Buffer[] = [];
  for (let o = 0; o < data.length; o += pieceSize) pieceHashes.push(sha256(data.subarray(o, o + pieceSize)));
  return { contentId: contentIdOfManifest(data.length, pieceSize, pieceHashes), name, size: data.length, pieceSize, pieceHashes };
}

/** The content id of some bytes (docs/content-ids.md). */
export function contentIdOf(data: Uint8Array): string {
  return manifestOf(data).contentId;
}

/** The content id of a file's bytes. */
export async function fileContentId(path: string): Promise<string> {
  return contentIdOf(await readFile(path));
}

/** Polls `check` until it returns a truthy value; throws after `timeoutMs` (bounded in count and time). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / everyMs) + 1; i++) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
