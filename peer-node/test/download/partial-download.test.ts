// PartialDownload on real files: the saved manifest is checked against its content id again at load,
// and the state an older version left under whole-file ids is discarded.
import { randomBytes } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PartialDownload } from "../../src/download/partial-download.js";
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

  it("discards the state an older version left under whole-file ids, and keeps the rest", async () => {
    const old = "ab".repeat(32);
    for (const suffix of [".part", ".manifest.json", ".bits"]) await writeFile(`${root}/${old}${suffix}`, "x");
    const m = manifestOf(randomBytes(MiB));
    await (await PartialDownload.create(dir, m, "kept.bin")).close();
    expect(await PartialDownload.discardLegacy(dir)).toEqual([old]);
    expect((await readdir(root)).sort()).toEqual([`${m.contentId}.manifest.json`, `${m.contentId}.part`]);
    expect(await PartialDownload.list(dir)).toEqual([m.contentId]);
  });
});
