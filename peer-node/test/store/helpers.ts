// Shared by the store, transfer and PeerService tests: real temp dirs, real files, bounded waits.
import { randomBytes, createHash } from "node:crypto";
import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";

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
  return { bytes, contentId: sha256Hex(bytes) };
}

/** Hex SHA-256 of some bytes. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Hex SHA-256 of a file's bytes. */
export async function fileSha256(path: string): Promise<string> {
  return sha256Hex(await readFile(path));
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
