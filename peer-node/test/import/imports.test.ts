import { readdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Importer } from "../../src/import/imports.js";
import { IMPORTS_PER_SESSION_MAX } from "../../src/constants.js";
import { validateFileName } from "../../src/store/names.js";
import { SharedFolder } from "../../src/store/shared-folder.js";
import { TransferRegistry } from "../../src/transfer/transfer.js";
import { logger, removeDir, contentIdOf, tempDir, waitFor } from "../pserver-harness.js";

const CHUNK = 64 * 1024;
const PIECE = 1024 * 1024;

function shuffled<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function chunkOf(bytes: Buffer, index: number): Buffer {
  return bytes.subarray(index * CHUNK, Math.min(bytes.length, (index + 1) * CHUNK));
}

describe("Importer", () => {
  let root: string;
  let store: SharedFolder;
  let registry: TransferRegistry;
  const open = () => Importer.open({ store, registry, validateName: validateFileName, logger, chunkSizeBytes: CHUNK });

  beforeEach(async () => {
    root = await tempDir();
    store = await SharedFolder.open({ folder: path.join(root, "shared"), dataDir: path.join(root, "state"), logger });
    registry = new TransferRegistry();
  });
  afterEach(async () => {
    await store.close();
    await removeDir(root);
  });

  it("takes chunks in any order, in parallel, and resumes after a restart", async () => {
    const bytes = randomBytes(10 * CHUNK + 123);
    const contentId = contentIdOf(bytes);
    const count = Math.ceil(bytes.length / CHUNK);
    let importer = await open();
    const first = await importer.begin("s1", { name: "photo.jpg", size: bytes.length, contentId });
    expect(first.chunkSize).toBe(CHUNK);
    const order = shuffled([...Array(count).keys()]);
    const before = order.slice(0, 6);
    await Promise.all(before.map((i) => importer.chunk(first.importId, i, chunkOf(bytes, i))));
    await importer.close();

    // A new run over the same partial folder: same import, same received chunks.
    importer = await open();
    const again = await importer.begin("s2", { name: "photo.jpg", size: bytes.length, contentId });
    expect(again.importId).toBe(first.importId);
    expect(again.receivedChunks.sort((a, b) => a - b)).toEqual([...before].sort((a, b) => a - b));
    await expect(importer.finish(first.importId)).rejects.toMatchObject({ code: "failed_precondition", reason: "CHUNKS_MISSING" });
    await Promise.all(order.slice(6).map((i) => importer.chunk(first.importId, i, chunkOf(bytes, i))));
    const file = await importer.finish(first.importId);
    expect(file.contentId).toBe(contentId);
    expect(file.name).toBe("photo.jpg");
    expect(store.get(contentId)?.size).toBe(bytes.length);
    expect(registry.get(first.importId)?.state).toBe("completed");
    expect(await readdir(path.join(store.partialDir.path, "imports"))).toEqual([]);
  });

  it("names a file the tab did not hash by the bytes it received, and resumes it by the tab's key", async () => {
    // Default chunks (8 MiB, whole pieces): each piece is hashed as its chunk is written.
    const bytes = randomBytes(2 * PIECE + 8 * 1024 * 1024 + 4567);
    const contentId = contentIdOf(bytes);
    const whole = () => Importer.open({ store, registry, validateName: validateFileName, logger });
    let importer = await whole();
    const key = "clip.mov\u0000" + bytes.length + "\u00001700000000000";
    const first = await importer.begin("s1", { name: "clip.mov", size: bytes.length, contentId: "", resumeKey: key });
    expect(first.chunkSize).toBe(8 * 1024 * 1024);
    const piece = (i: number) => bytes.subarray(i * first.chunkSize, Math.min(bytes.length, (i + 1) * first.chunkSize));
    await importer.chunk(first.importId, 1, piece(1));
    // Another file of the same size with another key is another import.
    const other = await importer.begin("s1", { name: "other.mov", size: bytes.length, contentId: "", resumeKey: "other" });
    expect(other.importId).not.toBe(first.importId);
    await importer.close();

    // After a restart the same key finds the import; the piece received before it is read back and hashed at finish.
    importer = await whole();
    const again = await importer.begin("s2", { name: "clip.mov", size: bytes.length, contentId: "", resumeKey: key });
    expect(again.importId).toBe(first.importId);
    expect(again.receivedChunks).toEqual([1]);
    await importer.chunk(first.importId, 0, piece(0));
    const file = await importer.finish(first.importId);
    expect(file.contentId).toBe(contentId);
    expect(store.get(contentId)?.size).toBe(bytes.length);
    expect(registry.get(first.importId)?.snapshot().contentId).toBe(contentId);

    // Without a restart every piece was hashed as written; the id is the same one a download checks.
    const fresh = await importer.begin("s2", { name: "copy.mov", size: bytes.length, contentId: "", resumeKey: "copy" });
    for (let i = 0; i < Math.ceil(bytes.length / fresh.chunkSize); i++) await importer.chunk(fresh.importId, i, piece(i));
    // Already held under that id: the import ends with the file the folder holds.
    expect((await importer.finish(fresh.importId)).contentId).toBe(contentId);
    expect(store.list()).toHaveLength(1);
    await expect(importer.begin("s2", { name: "x", size: 1, contentId: "", resumeKey: "k".repeat(1025) })).rejects.toMatchObject({ reason: "BAD_REQUEST" });
  });

  it("discards the bytes when they do not hash to the content id", async () => {
    const bytes = randomBytes(3 * CHUNK);
    const importer = await open();
    const wrongId = contentIdOf(Buffer.from("something else"));
    const t = await importer.begin("s1", { name: "x.bin", size: bytes.length, contentId: wrongId });
    for (let i = 0; i < 3; i++) await importer.chunk(t.importId, i, chunkOf(bytes, i));
    await expect(importer.finish(t.importId)).rejects.toMatchObject({ code: "data_loss", reason: "HASH_MISMATCH" });
    expect(store.list()).toEqual([]);
    expect(registry.get(t.importId)?.state).toBe("failed");
    expect(await readdir(path.join(store.partialDir.path, "imports"))).toEqual([]);
  });

  it("refuses bad input at the edge", async () => {
    const importer = await open();
    const contentId = contentIdOf(Buffer.from("abc"));
    await expect(importer.begin("s1", { name: "../etc/passwd", size: 3, contentId })).rejects.toMatchObject({ code: "invalid_argument", reason: "BAD_NAME" });
    await expect(importer.begin("s1", { name: "ok.txt", size: 3, contentId: "ABC" })).rejects.toMatchObject({ code: "invalid_argument", reason: "BAD_CONTENT_ID" });
    const t = await importer.begin("s1", { name: "ok.txt", size: 3, contentId });
    await expect(importer.chunk(t.importId, 0, Buffer.from("abcd"))).rejects.toMatchObject({ code: "invalid_argument", reason: "BAD_REQUEST" });
    await expect(importer.chunk(t.importId, 1, Buffer.from("abc"))).rejects.toMatchObject({ code: "invalid_argument", reason: "BAD_REQUEST" });
  });

  it("refuses to import a file the folder already holds", async () => {
    const importer = await open();
    const bytes = Buffer.from("hello world");
    const t = await importer.begin("s1", { name: "hello.txt", size: bytes.length, contentId: contentIdOf(bytes) });
    await importer.chunk(t.importId, 0, bytes);
    await importer.finish(t.importId);
    await expect(importer.begin("s1", { name: "again.txt", size: bytes.length, contentId: contentIdOf(bytes) })).rejects.toMatchObject({ code: "already_exists", reason: "ALREADY_HELD" });
  });

  it("limits unfinished imports per session and refuses files larger than the free disk space", async () => {
    const importer = await open();
    for (let i = 0; i < IMPORTS_PER_SESSION_MAX; i++) {
      await importer.begin("busy", { name: `part-${i}.bin`, size: 10, contentId: contentIdOf(Buffer.from(`file ${i}`)) });
    }
    const next = { name: "one-more.bin", size: 10, contentId: contentIdOf(Buffer.from("one more")) };
    await expect(importer.begin("busy", next)).rejects.toMatchObject({ code: "resource_exhausted", reason: "TOO_MANY_IMPORTS" });
    // Another session is not held back by the first one's imports.
    await expect(importer.begin("other", next)).resolves.toMatchObject({ receivedChunks: [] });
    const huge = { name: "huge.bin", size: (await store.freeBytes()) + 1, contentId: contentIdOf(Buffer.from("huge")) };
    await expect(importer.begin("other", huge)).rejects.toThrow(/Not enough free disk space/);
  });

  it("discards the partial file when its transfer is cancelled", async () => {
    const importer = await open();
    const bytes = randomBytes(2 * CHUNK);
    const t = await importer.begin("s1", { name: "big.bin", size: bytes.length, contentId: contentIdOf(bytes) });
    await importer.chunk(t.importId, 0, chunkOf(bytes, 0));
    registry.get(t.importId)!.cancel();
    await waitFor(() => registry.get(t.importId)?.state === "cancelled", "the import to be cancelled");
    expect(await readdir(path.join(store.partialDir.path, "imports"))).toEqual([]);
    await expect(importer.chunk(t.importId, 1, chunkOf(bytes, 1))).rejects.toThrow(/No unfinished import/);
  });
});
