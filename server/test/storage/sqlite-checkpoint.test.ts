import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/storage/sqlite-store.js";
import { file, tokenHash } from "../helpers.js";

/** Frames in the WAL and frames already copied into the database file, read from the WAL index (-shm). */
function walProgress(path: string): { frames: number; backfilled: number } {
  const shm = readFileSync(`${path}-shm`);
  return { frames: shm.readUInt32LE(16), backfilled: shm.readUInt32LE(96) };
}

describe("SqliteStore's background checkpoints", () => {
  it("copy the WAL into the database file off the event loop, and close() leaves no WAL behind", async () => {
    const dir = await mkdtemp(join(tmpdir(), "directory-wal-"));
    const path = join(dir, "directory.sqlite");
    const store = SqliteStore.open(path);
    try {
      const user = await store.createUser("alice", "h");
      if (!user) throw new Error("no user");
      await store.openSession(user.id, tokenHash("token"), "http://a:1", 60_000);
      for (let i = 0; i < 50; i += 1) {
        await store.replaceFiles(user.id, Array.from({ length: 40 }, (_, j) => file(`f ${i} ${j}`, i * 100 + j)), 10_000);
      }
      // The connection itself never checkpoints (wal_autocheckpoint = 0): only the worker can catch up.
      await expect.poll(() => {
        const { frames, backfilled } = walProgress(path);
        return frames > 0 && backfilled === frames;
      }, { timeout: 10_000 }).toBe(true);
    } finally {
      await store.close();
    }
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = SqliteStore.open(path);
    expect((await reopened.stats()).indexedFiles).toBe(40);
    await reopened.close();
    await rm(dir, { recursive: true, force: true });
  });
});
