// Adding a file to the browser peer (store worker side): the picked file is read one piece at a
// time, each piece hashed with WebCrypto and written into OPFS through a sync access handle, so a
// multi-GiB file costs two pieces of memory. The content id comes from the manifest at the end, and
// the bytes are moved under it.
import { BROWSER_PEER_PROGRESS_EVERY_MS } from "../constants.js";
import { contentIdOfManifest, pieceCountOf, pieceSizeFor } from "./content-id.js";
import { HashPool } from "./hash-pool.js";
import { createHashWorker } from "./hash-workers.js";
import { fileIn, openSyncHandle, readMeta, resizeTo, writeAllAt, writeManifest, writeMeta } from "./opfs-layout.js";
import type { JobProgress } from "./worker-protocol.js";

/** What an import reports and how it can be stopped. */
export interface ImportHooks {
  progress(progress: JobProgress): void;
  signal: AbortSignal;
}

/** The stored result of an import. */
export interface Imported {
  contentId: string;
  name: string;
  size: number;
}

/** Copies `file` into the peer's folder, hashing every piece on the way; returns its content id. */
export async function importFile(folder: FileSystemDirectoryHandle, file: File, hooks: ImportHooks): Promise<Imported> {
  const size = file.size;
  const pieceSize = pieceSizeFor(size);
  const count = pieceCountOf(size, pieceSize);
  const staging = `import-${crypto.randomUUID()}.data`;
  const stagingHandle = await folder.getFileHandle(staging, { create: true });
  const access = await openSyncHandle(stagingHandle);
  const pieceHashes: Uint8Array[] = [];
  const hashes = new HashPool(createHashWorker);
  let reportedAt = 0;
  try {
    resizeTo(access, size);
    // Each lane reads a piece, has a hash worker hash it (hash-pool.ts: WebCrypto's digest runs on the
    // calling thread) and writes it: reading, hashing and writing overlap, on every core.
    let next = 0;
    let done = 0;
    const lane = async (): Promise<void> => {
      while (next < count) {
        hooks.signal.throwIfAborted();
        const index = next++;
        const read = await file.slice(index * pieceSize, Math.min(size, (index + 1) * pieceSize)).arrayBuffer();
        const { digest, bytes } = await hashes.digest(new Uint8Array(read));
        pieceHashes[index] = digest;
        writeAllAt(access, bytes, index * pieceSize);
        done += bytes.byteLength;
        const now = performance.now();
        if (now - reportedAt >= BROWSER_PEER_PROGRESS_EVERY_MS) {
          reportedAt = now;
          hooks.progress({ bytesDone: done, bytesTotal: size, sources: [], banned: [] });
        }
      }
    };
    await Promise.all(Array.from({ length: hashes.lanes }, () => lane()));
    access.flush();
  } catch (error) {
    hashes.destroy();
    access.close();
    await folder.removeEntry(staging).catch(() => undefined);
    throw error;
  }
  hashes.destroy();
  access.close();
  const facts = { size, pieceSize, pieceHashes };
  const contentId = await contentIdOfManifest(facts);
  const existing = await readMeta(folder, contentId);
  if (existing?.state === "complete") {
    // Already held (same bytes under any name): keep the one copy.
    await folder.removeEntry(staging).catch(() => undefined);
    return { contentId, name: existing.name, size };
  }
  const old = await fileIn(folder, `${contentId}.data`);
  if (old !== undefined) await folder.removeEntry(`${contentId}.data`);
  // FileSystemHandle.move is in Chromium and Firefox but not yet in TypeScript's DOM library.
  await (stagingHandle as FileSystemFileHandle & { move(parent: FileSystemDirectoryHandle, name: string): Promise<void> }).move(folder, `${contentId}.data`);
  await folder.removeEntry(`${contentId}.have`).catch(() => undefined);
  await writeManifest(folder, contentId, facts);
  await writeMeta(folder, contentId, { name: file.name, size, pieceSize, state: "complete", addedAtMs: Date.now() });
  hooks.progress({ bytesDone: size, bytesTotal: size, sources: [], banned: [] });
  return { contentId, name: file.name, size };
}
