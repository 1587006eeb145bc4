// Where a browser peer keeps its files in the origin-private file system (OPFS), shared by the
// page and the store worker. One folder per peer name; per content id four files side by side:
//   <id>.data      the file's bytes at their offsets (complete, or partial while downloading)
//   <id>.manifest  the canonical manifest bytes, kept only after they hashed to <id>
//   <id>.json      the name and whether the file is complete (see FileMeta)
//   <id>.have      while partial: the bitfield of pieces verified and flushed to <id>.data
// Flat files rather than a folder per id, because OPFS moves files but not folders.
import { canonicalManifestBytes, type ManifestFacts } from "./content-id.js";

/** What `<id>.json` holds. */
export interface FileMeta {
  name: string;
  size: number;
  pieceSize: number;
  /** "complete" files are offered to the network; "partial" ones are downloads to resume. */
  state: "complete" | "partial";
  /** Milliseconds since the epoch when the file was added or its download started. */
  addedAtMs: number;
  /** The peer that pushed the file here, when it came by a push (its bytes count against the push quota). */
  pushedFrom?: string;
}

const ROOT_FOLDER = "p2p-browser-peer";
const HEADER_BYTES = 16 + 12;

/** The folder of one peer's files. */
export async function peerFolder(peerName: string): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  const all = await root.getDirectoryHandle(ROOT_FOLDER, { create: true });
  return all.getDirectoryHandle(peerName, { create: true });
}

/** A file of the folder, or undefined when it does not exist. */
export async function fileIn(folder: FileSystemDirectoryHandle, name: string, create = false): Promise<FileSystemFileHandle | undefined> {
  try {
    return await folder.getFileHandle(name, { create });
  } catch (error) {
    if (error instanceof DOMException && (error.name === "NotFoundError" || error.name === "TypeMismatchError")) return undefined;
    throw error;
  }
}

/** Writes a small file whole (meta, manifest, bitfield) through a writable stream. */
export async function writeWhole(folder: FileSystemDirectoryHandle, name: string, bytes: Uint8Array<ArrayBuffer> | string): Promise<void> {
  const handle = await folder.getFileHandle(name, { create: true });
  const writable = await handle.createWritable();
  await writable.write(bytes);
  await writable.close();
}

/** Reads the meta of a content id, or undefined when missing or unreadable. */
export async function readMeta(folder: FileSystemDirectoryHandle, contentId: string): Promise<FileMeta | undefined> {
  const handle = await fileIn(folder, `${contentId}.json`);
  if (handle === undefined) return undefined;
  try {
    const parsed = JSON.parse(await (await handle.getFile()).text()) as Partial<FileMeta>;
    if (typeof parsed.name !== "string" || typeof parsed.size !== "number" || typeof parsed.pieceSize !== "number") return undefined;
    if (parsed.state !== "complete" && parsed.state !== "partial") return undefined;
    const meta: FileMeta = { name: parsed.name, size: parsed.size, pieceSize: parsed.pieceSize, state: parsed.state, addedAtMs: parsed.addedAtMs ?? 0 };
    if (typeof parsed.pushedFrom === "string") meta.pushedFrom = parsed.pushedFrom;
    return meta;
  } catch {
    return undefined;
  }
}

/** Saves the meta of a content id. */
export function writeMeta(folder: FileSystemDirectoryHandle, contentId: string, meta: FileMeta): Promise<void> {
  return writeWhole(folder, `${contentId}.json`, JSON.stringify(meta));
}

/** Saves a verified manifest. */
export function writeManifest(folder: FileSystemDirectoryHandle, contentId: string, facts: ManifestFacts): Promise<void> {
  return writeWhole(folder, `${contentId}.manifest`, canonicalManifestBytes(facts));
}

/** Reads a stored manifest back into its facts, or undefined when missing or malformed. */
export async function readManifest(folder: FileSystemDirectoryHandle, contentId: string): Promise<ManifestFacts | undefined> {
  const handle = await fileIn(folder, `${contentId}.manifest`);
  if (handle === undefined) return undefined;
  const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
  if (bytes.byteLength < HEADER_BYTES || (bytes.byteLength - HEADER_BYTES) % 32 !== 0) return undefined;
  const view = new DataView(bytes.buffer);
  const size = Number(view.getBigUint64(16));
  const pieceSize = view.getUint32(24);
  const pieceHashes: Uint8Array[] = [];
  for (let at = HEADER_BYTES; at < bytes.byteLength; at += 32) pieceHashes.push(bytes.slice(at, at + 32));
  return { size, pieceSize, pieceHashes };
}

/** The content ids that have a meta file in the folder. */
export async function storedIds(folder: FileSystemDirectoryHandle): Promise<string[]> {
  const ids: string[] = [];
  for await (const name of folder.keys()) if (name.endsWith(".json")) ids.push(name.slice(0, -".json".length));
  return ids;
}

/** Deletes every file of a content id (missing ones are fine). */
export async function removeStored(folder: FileSystemDirectoryHandle, contentId: string): Promise<void> {
  for (const suffix of [".json", ".have", ".manifest", ".data"]) {
    await folder.removeEntry(`${contentId}${suffix}`).catch(() => undefined);
  }
}

/** Names of the files an import or a received push writes before it knows the content id (import-job.ts, receive-job.ts). */
const STAGING_NAME = /^(import|push)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.data$/;

/**
 * Deletes the staging files that a tab closed mid-import or mid-push left behind; returns how many.
 * A staging file still being written is not touched: its writer holds a sync access handle, whose lock
 * makes removeEntry fail (NoModificationAllowedError), so another tab of the same peer loses nothing.
 */
export async function sweepStaging(folder: FileSystemDirectoryHandle): Promise<number> {
  const stale: string[] = [];
  for await (const name of folder.keys()) if (STAGING_NAME.test(name)) stale.push(name);
  let removed = 0;
  for (const name of stale) {
    try {
      await folder.removeEntry(name);
      removed++;
    } catch {
      // Locked by a live writer, or gone already.
    }
  }
  return removed;
}

/**
 * The browser stores no more for this site: its storage quota is used up. A normal window says so with
 * a QuotaExceededError; a private window's in-memory storage says nothing (measured in Chromium: a
 * truncate past the quota leaves the size as it was, a write returns a bogus count), so every size
 * change and write is checked, or a download would mark pieces verified that were never stored.
 */
export class StorageFull extends Error {
  constructor() {
    super(
      "This browser has no room left for this site's files (its storage quota is used up; private windows get little), so nothing more was stored. " +
        "Remove files from this browser peer or free disk space, then try again.",
    );
    this.name = "StorageFull";
  }
}

function isQuotaError(error: unknown): boolean {
  return error instanceof DOMException && error.name === "QuotaExceededError";
}

/** Sets the size of a file through its sync access handle; StorageFull when the browser does not. */
export function resizeTo(access: FileSystemSyncAccessHandle, size: number): void {
  try {
    access.truncate(size);
  } catch (error) {
    throw isQuotaError(error) ? new StorageFull() : error;
  }
  if (access.getSize() !== size) throw new StorageFull();
}

/** Writes all of `bytes` at `at` through a sync access handle; StorageFull when the browser stores fewer. */
export function writeAllAt(access: FileSystemSyncAccessHandle, bytes: Uint8Array<ArrayBuffer>, at: number): void {
  let written: number;
  try {
    written = access.write(bytes, { at });
  } catch (error) {
    throw isQuotaError(error) ? new StorageFull() : error;
  }
  if (written !== bytes.byteLength) throw new StorageFull();
}

/** createSyncAccessHandle's options (Chromium 121+), which TypeScript's DOM types do not have yet. */
interface SharedSyncHandles {
  createSyncAccessHandle(options: { mode: "readwrite-unsafe" }): Promise<FileSystemSyncAccessHandle>;
}

/**
 * Opens a sync access handle (workers only); `shared` ("readwrite-unsafe") lets several workers hold
 * one on the same file at once, as a download's piece fetchers do, each writing its own pieces. A
 * page reloaded a moment ago may still hold the lock in its dying worker, so a
 * NoModificationAllowedError is retried for a few seconds.
 */
export async function openSyncHandle(handle: FileSystemFileHandle, shared = false): Promise<FileSystemSyncAccessHandle> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (shared) return await (handle as SharedSyncHandles).createSyncAccessHandle({ mode: "readwrite-unsafe" });
      return await handle.createSyncAccessHandle();
    } catch (error) {
      if (!(error instanceof DOMException) || error.name !== "NoModificationAllowedError" || attempt >= 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
