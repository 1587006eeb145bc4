import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/storage/sqlite-schema.js";
import { SqliteStore } from "../../src/storage/sqlite-store.js";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("a directory database from before push policies gains them at start, its accounts taking no push until they say so", async () => {
  dir = mkdtempSync(join(tmpdir(), "push-policy-migration-"));
  const path = join(dir, "directory.sqlite");
  const old = new Database(path);
  // Schema version 2 (the content-id migration): the last one before push policies (migration 3).
  old.exec(MIGRATIONS[0] as string);
  old.exec(MIGRATIONS[1] as string);
  old.pragma("user_version = 2");
  old.prepare("INSERT INTO users (name, password_hash, created_at) VALUES ('bob', 'x', 0)").run();
  old.close();

  const store = SqliteStore.open(path);
  try {
    const migrated = new Database(path, { readonly: true });
    expect(migrated.pragma("user_version", { simple: true })).toBe(3);
    expect(MIGRATIONS).toHaveLength(3);
    migrated.close();
    const bob = await store.findUser("bob");
    expect(bob).not.toBeNull();
    expect(await store.findPushPolicy(bob!.id)).toBeNull();
    await store.setPushPolicy(bob!.id, { accept: "listed", from: ["Alice"], maxFileBytes: 5, quotaBytes: 6 });
    expect(await store.findPushPolicy(bob!.id)).toEqual({ accept: "listed", from: ["alice"], maxFileBytes: 5, quotaBytes: 6 });
  } finally {
    await store.close();
  }
});
