// PartialDownload on real files: the saved manifest is checked against its content id again at load,
// and the state an older version left under whole-file ids moves to the id its manifest names.
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PartialDownload } from "../../src/download/partial-download.js";
import type { Manifest } from "../../src/store/file-store.js";
import { PartialFolder } from "../../src/store/partial-folder.js";
import { logger, manifestOf, tempDir } from "../store/helpers.js";

const MiB = 1024 * 1024;
let dir: PartialFolder;
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  const temp = await tempDir();
  cleanup = temp.cleanup;
  root = temp.dir;
  dir = await PartialFolder.open(temp.dir, logger);
});
afterEach(() => cleanup());

describe("PartialDownload", () => {
  it("saves the verified pieces and a reload finds them under the same manifest", async () => {
    const m = manifestOf(randomBytes(3 * MiB + 5));
    const first = await PartialDownload.create(dir, m, "file.bin");
    first.markVerified(0);
    first.markVerified(2);
    await first.save();
    await first.close();
    const again = (await PartialDownload.load(dir, m.contentId))!;
    expect([0, 1, 2, 3].map((i) => again.has(i))).toEqual([true, false, true, false]);
    expect(again.manifest.pieceSize).toBe(MiB);
    await again.close();
  });

  it("discards saved state whose manifest its content id does not name", async () => {
    const m = manifestOf(randomBytes(2 * MiB));
    const forged = { ...m, pieceHashes: [m.pieceHashes[1]!, m.pieceHashes[0]!] };
    const p = await PartialDownload.create(dir, forged, "file.bin");
    await p.close();
    expect(await PartialDownload.load(dir, m.contentId)).toBeUndefined();
    expect(await readdir(root)).toEqual([]);
  });

  it("moves the state an older version left under a whole-file id to the id its manifest names, verified pieces and all", async () => {
    const bytes = randomBytes(3 * MiB + 5);
    const m = manifestOf(bytes, "song.flac");
    // What an older version saved: the same files, named by the SHA-256 of the whole file, the manifest's
    // contentId that old id; pieces 0 and 2 verified and written, the rest not yet.
    const old = createHash("sha256").update(bytes).digest("hex");
    const part = Buffer.alloc(bytes.length);
    bytes.copy(part, 0, 0, MiB);
    bytes.copy(part, 2 * MiB, 2 * MiB, 3 * MiB);
    await writeFile(`${root}/${old}.part`, part);
    await writeFile(`${root}/${old}.bits`, Buffer.from([0b0000_0101]));
    await writeFile(`${root}/${old}.manifest.json`, JSON.stringify(legacyManifestFile(old, m)));
    const other = manifestOf(randomBytes(MiB));
    await (await PartialDownload.create(dir, other, "kept.bin")).close();

    expect(await PartialDownload.migrateLegacy(dir)).toEqual({ moved: [{ from: old, to: m.contentId }], removed: [] });
    expect((await readdir(root)).sort()).toEqual(
      [`${m.contentId}.bits`, `${m.contentId}.manifest.json`, `${m.contentId}.part`, `${other.contentId}.manifest.json`, `${other.contentId}.part`].sort(),
    );
    // Loaded as any saved download: the manifest checks against its new id, the verified pieces are kept.
    const moved = (await PartialDownload.load(dir, m.contentId))!;
    expect(moved.name).toBe("song.flac");
    expect([0, 1, 2, 3].map((i) => moved.has(i))).toEqual([true, false, true, false]);
    await moved.close();
    expect((await readFile(`${root}/${m.contentId}.part`)).equals(part)).toBe(true);
    expect((await PartialDownload.list(dir)).sort()).toEqual([m.contentId, other.contentId].sort());
    // Nothing left to move the next time.
    expect(await PartialDownload.migrateLegacy(dir)).toEqual({ moved: [], removed: [] });
  });

  it("finishes a move a crash cut short, and removes old state that names no valid id or whose new id has state", async () => {
    const bytes = randomBytes(2 * MiB);
    const m = manifestOf(bytes);
    const halfway = "cd".repeat(32);
    // A crash after the bytes were moved, before the new manifest was written.
    await writeFile(`${root}/${m.contentId}.part`, bytes);
    await writeFile(`${root}/${halfway}.bits`, Buffer.from([0b0000_0011]));
    await writeFile(`${root}/${halfway}.manifest.json`, JSON.stringify(legacyManifestFile(halfway, m)));
    // A piece size the new ids do not use for this size: no valid id to move it to.
    const odd = "ef".repeat(32);
    const oddManifest = { ...manifestOf(randomBytes(MiB)), pieceSize: 512 * 1024 };
    await writeFile(`${root}/${odd}.part`, "x");
    await writeFile(`${root}/${odd}.manifest.json`, JSON.stringify(legacyManifestFile(odd, { ...oddManifest, pieceHashes: [oddManifest.pieceHashes[0]!, oddManifest.pieceHashes[0]!] })));
    // Unreadable.
    const broken = "01".repeat(32);
    await writeFile(`${root}/${broken}.manifest.json`, "{");
    const result = await PartialDownload.migrateLegacy(dir);
    expect(result.moved).toEqual([{ from: halfway, to: m.contentId }]);
    expect(result.removed.sort()).toEqual([odd, broken].sort());
    const resumed = (await PartialDownload.load(dir, m.contentId))!;
    expect([0, 1].map((i) => resumed.has(i))).toEqual([true, true]);
    await resumed.close();

    // The same file's old state again, while the new id has state of its own: the new state stays.
    const again = "23".repeat(32);
    await writeFile(`${root}/${again}.part`, Buffer.alloc(bytes.length));
    await writeFile(`${root}/${again}.manifest.json`, JSON.stringify(legacyManifestFile(again, m)));
    expect(await PartialDownload.migrateLegacy(dir)).toEqual({ moved: [], removed: [again] });
    expect((await readFile(`${root}/${m.contentId}.part`)).equals(bytes)).toBe(true);
    expect((await readdir(root)).filter((f) => f.startsWith(again))).toEqual([]);
  });
});

/** The manifest file an older version wrote for a download under the whole-file id `oldId`. */
function legacyManifestFile(oldId: string, m: Manifest) {
  return {
    version: 1,
    name: m.name,
    contentId: oldId,
    size: m.size,
    pieceSize: m.pieceSize,
    pieceHashes: Buffer.concat(m.pieceHashes.map((h) => Buffer.from(h))).toString("base64"),
  };
}
