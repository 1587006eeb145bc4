// The page's view of the browser peer's OPFS folder: what it holds, its manifests and bytes to
// serve. Reads only (complete files have no writer, so the page reads them as disk-backed Files);
// every write goes through the store worker.
import { pieceLengthOf, type ManifestFacts } from "./content-id.js";
import { fileIn, peerFolder, readManifest, readMeta, removeStored, storedIds, type FileMeta } from "./opfs-layout.js";

/** A file the browser peer holds, or is downloading. */
export interface LocalFile extends FileMeta {
  contentId: string;
}

/** A manifest with the name this peer shares the file under. */
export interface NamedManifest extends ManifestFacts {
  name: string;
}

/** Reads the browser peer's folder. */
export class LocalFiles {
  readonly #folder: Promise<FileSystemDirectoryHandle>;
  /** Manifests read once per content id: serving asks for the same one for every piece batch. */
  readonly #manifests = new Map<string, NamedManifest>();

  constructor(peerName: string) {
    this.#folder = peerFolder(peerName);
  }

  /** Every stored file, complete and partial, newest first. */
  async list(): Promise<LocalFile[]> {
    const folder = await this.#folder;
    const files: LocalFile[] = [];
    for (const contentId of await storedIds(folder)) {
      const meta = await readMeta(folder, contentId);
      if (meta !== undefined) files.push({ contentId, ...meta });
    }
    return files.sort((a, b) => b.addedAtMs - a.addedAtMs);
  }

  /** The manifest of a complete file, or undefined when it is not held whole. */
  async manifest(contentId: string): Promise<NamedManifest | undefined> {
    const cached = this.#manifests.get(contentId);
    if (cached !== undefined) return cached;
    const folder = await this.#folder;
    const meta = await readMeta(folder, contentId);
    if (meta?.state !== "complete") return undefined;
    const facts = await readManifest(folder, contentId);
    if (facts === undefined) return undefined;
    const named = { ...facts, name: meta.name };
    this.#manifests.set(contentId, named);
    return named;
  }

  /** The bytes of a complete file as a disk-backed File (for Save and serving). */
  async file(contentId: string): Promise<File | undefined> {
    const folder = await this.#folder;
    const handle = await fileIn(folder, `${contentId}.data`);
    return handle === undefined ? undefined : handle.getFile();
  }

  /** Reads one piece of a complete file. */
  async piece(contentId: string, index: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const manifest = await this.manifest(contentId);
    if (manifest === undefined || index < 0 || index >= manifest.pieceHashes.length) return undefined;
    const file = await this.file(contentId);
    if (file === undefined) return undefined;
    const start = index * manifest.pieceSize;
    return new Uint8Array(await file.slice(start, start + pieceLengthOf(manifest, index)).arrayBuffer());
  }

  /** Deletes a file and everything kept about it. */
  async remove(contentId: string): Promise<void> {
    this.#manifests.delete(contentId);
    await removeStored(await this.#folder, contentId);
  }
}
