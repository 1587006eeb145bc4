// Adding a file to the browser peer (store worker side): the picked file is read one piece at a
// time (hash-pieces.ts), each piece hashed in a hash worker and written into OPFS through a sync
// access handle, so a multi-GiB file costs a few pieces of memory. The content id comes from the manifest at the end, and
// the bytes are moved under it.
import { BROWSER_PEER_PROGRESS_EVERY_MS } from "../constants.js";
import { contentIdOfManifest, pieceSizeFor } from "./content-id.js";
import { hashPieces } from "./hash-pieces.js";
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
  const staging = `import-${crypto.randomUUID()}.data`;
  const stagingHandle = await folder.getFileHandle(staging, { create: true });
  const access = await openSyncHandle(stagingHandle);
  let pieceHashes: Uint8Array[];
  let reportedAt = 0;
  try {
    resizeTo(access, size);
    let done = 0;
    pieceHashes = await hashPieces(
      file,
      pieceSize,
      (index, bytes) => {
        writeAllAt(access, bytes, index * pieceSize);
        done += bytes.byteLength;
        const now = performance.now();
        if (now - reportedAt >= BROWSER_PEER_PROGRESS_EVERY_MS) {
          reportedAt = now;
          hooks.progress({ bytesDone: done, bytesTotal: size, sources: [], banned: [] });
        }
      },
      { signal: hooks.signal, createWorker: createHashWorker },
    );
    access.flush();
  } catch (error) {
    access.close();
    await folder.removeEntry(staging).catch(() => undefined);
    throw error;
  }
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
