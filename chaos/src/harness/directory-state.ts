// "No row changed": a digest of every row the directory keeps, read from its SQLite file by the sqlite3
// command-line shell in read-only mode (schema-agnostic: every table but the full-text index's shadow
// tables, which are derived from `contents` and re-merged in the background). Where the shell is not
// installed, the digest falls back to what the REST API shows (gauges and live peers) and says so.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import type { DirectoryApi } from "./directory-api.js";

const run = promisify(execFile);
const DATABASE_FILE_NAME = "directory.sqlite";

/** A digest of the directory's state and how it was taken. */
export interface DirectoryDigest {
  readonly digest: string;
  readonly how: "sqlite rows" | "REST gauges and peers";
}

let shellMissing: boolean | undefined;

/** Digests the directory's rows (data folder `dataDir`), or its REST view when no sqlite3 shell exists. */
export async function directoryDigest(dataDir: string, api: DirectoryApi): Promise<DirectoryDigest> {
  if (shellMissing !== true) {
    try {
      const { stdout } = await run("sqlite3", ["-readonly", path.join(dataDir, DATABASE_FILE_NAME), ".dump"], { maxBuffer: 512 * 1024 * 1024 });
      shellMissing = false;
      const rows = stdout.split("\n").filter((line) => line.startsWith("INSERT INTO ") && !/^INSERT INTO "?\w*_fts/.test(line));
      return { digest: createHash("sha256").update(rows.join("\n")).digest("hex"), how: "sqlite rows" };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      shellMissing = true;
    }
  }
  const gauges = await api.gauges();
  const peers = await api.peers();
  const view = JSON.stringify({ gauges, peers: peers.map((p) => [p.name, p.address]) });
  return { digest: createHash("sha256").update(view).digest("hex"), how: "REST gauges and peers" };
}
