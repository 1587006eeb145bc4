// The start of a directory whose database an older version filled, on both stores: content ids
// changed format (whole-file SHA-256 -> m1_ manifest hash), so the migration to schema version 2
// drops the index, sessions and tickets with a log line; accounts stay and peers republish.
import Database from "better-sqlite3";
import pg from "pg";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { DATABASE_FILE_NAME } from "../../src/constants.js";
import { contentId, file, login, publish, startTestDirectory, type TestDirectory } from "../helpers.js";
import { describeEachStore, POSTGRES, type StoreLocation } from "../stores.js";

/** Sets the location's schema back to version 1, as an older directory left it (no push_policies table: migration 3). */
async function rewindToVersion1(location: StoreLocation): Promise<void> {
  if (location.kind === "sqlite") {
    const db = new Database(join(location.config.dataDir as string, DATABASE_FILE_NAME));
    db.exec("DROP TABLE push_policies");
    db.pragma("user_version = 1");
    db.close();
    return;
  }
  const client = new pg.Client({ connectionString: POSTGRES.url });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${location.config.databaseSchema as string}"`);
    await client.query("DROP TABLE push_policies");
    await client.query("DELETE FROM schema_migrations WHERE version > 1");
  } finally {
    await client.end();
  }
}

describeEachStore("content id migration", (storage) => {
  const open: TestDirectory[] = [];
  afterEach(async () => {
    for (const dir of open.splice(0)) await dir.close(false);
  });

  it("drops the old index, sessions and tickets at start with a log line, keeps accounts, and takes a republished index", async () => {
    const first = await startTestDirectory({ storage });
    open.push(first);
    const oldToken = await publish(first, "alice", [file("song.mp3", 1), file("film.mkv", 2)]);
    expect((await first.request("GET", `/api/v1/files/${contentId(1)}`)).status).toBe(200);
    await open.pop()!.close(false);
    await rewindToVersion1(first.location);

    const again = await startTestDirectory({ location: first.location });
    open.push(again);
    const note = again.logs.find((line) => line.msg === "database migrated");
    expect(note?.migration).toMatch(/^schema version 2: dropped the index rows of content ids of an older version .* \(2 index rows\)$/);
    expect((await again.request("GET", `/api/v1/files/${contentId(1)}`)).status).toBe(404);
    expect((await again.request("GET", "/api/v1/search?q=song")).body).toMatchObject({ results: [], total: 0 });
    // The old session is gone: the peer is told to log in again, and its account (password) is kept.
    expect((await again.request("POST", "/api/v1/heartbeat", { token: oldToken })).status).toBe(401);
    const token = await login(again, "alice");
    expect((await again.request("PUT", "/api/v1/index", { token, body: { files: [file("song.mp3", 1)] } })).status).toBe(200);
    expect((await again.request("GET", `/api/v1/files/${contentId(1)}`)).body).toMatchObject({ name: "song.mp3", holderCount: 1 });
    await again.close(false);
    open.pop();
    await first.location.remove();
  });

  it("logs nothing on a fresh database", async () => {
    const dir = await startTestDirectory({ storage });
    expect(dir.logs.filter((line) => line.msg === "database migrated")).toEqual([]);
    await dir.close();
  });
});
